package sdklog

import (
	"os"
	"testing"
)

func TestQuietWithoutLogLevel(t *testing.T) {
	for _, v := range []string{"TF_LOG", "TF_LOG_PROVIDER", "TF_LOG_SDK", "TF_LOG_SDK_FRAMEWORK", "TF_LOG_SDK_PROTO"} {
		t.Setenv(v, "")
		_ = os.Unsetenv(v)
	}
	Quiet()
	for _, v := range []string{"TF_LOG_SDK", "TF_LOG_SDK_FRAMEWORK", "TF_LOG_SDK_PROTO"} {
		if got := os.Getenv(v); got != "off" {
			t.Errorf("%s = %q, want off", v, got)
		}
	}
}

func TestQuietKeepsAskedLevels(t *testing.T) {
	for _, asked := range []string{"TF_LOG", "TF_LOG_PROVIDER", "TF_LOG_SDK_FRAMEWORK"} {
		t.Run(asked, func(t *testing.T) {
			for _, v := range []string{"TF_LOG", "TF_LOG_PROVIDER", "TF_LOG_SDK", "TF_LOG_SDK_FRAMEWORK", "TF_LOG_SDK_PROTO"} {
				t.Setenv(v, "")
				_ = os.Unsetenv(v)
			}
			t.Setenv(asked, "DEBUG")
			Quiet()
			for _, v := range []string{"TF_LOG_SDK", "TF_LOG_SDK_PROTO"} {
				if v != asked && os.Getenv(v) != "" {
					t.Errorf("with %s set, %s = %q, want unset", asked, v, os.Getenv(v))
				}
			}
		})
	}
}
