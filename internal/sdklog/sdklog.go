// Package sdklog quiets the plugin SDKs' own trace logs in a provider
// process when Terraform asked for no logs at all.
package sdklog

import "os"

// Quiet turns off the SDKs' trace logs when no TF_LOG* variable is set:
// Terraform discards them then, and writing them costs about half of a
// provider's time per resource in a plan. Any TF_LOG* variable keeps the
// SDKs' defaults. Call it before serving.
func Quiet() {
	for _, v := range []string{"TF_LOG", "TF_LOG_PROVIDER", "TF_LOG_SDK", "TF_LOG_SDK_FRAMEWORK", "TF_LOG_SDK_PROTO"} {
		if os.Getenv(v) != "" {
			return
		}
	}
	for _, v := range []string{"TF_LOG_SDK", "TF_LOG_SDK_FRAMEWORK", "TF_LOG_SDK_PROTO"} {
		_ = os.Setenv(v, "off")
	}
}
