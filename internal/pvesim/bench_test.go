package pvesim

import (
	"io"
	"net/http"
	"testing"
)

// BenchmarkConfigGET measures config reads over HTTPS on loopback, the call
// provider refreshes make most; it reports requests per second.
//
//	go test ./internal/pvesim -run '^$' -bench BenchmarkConfigGET -benchtime 3s
func BenchmarkConfigGET(b *testing.B) {
	s := Start(b, Options{TaskDelay: -1})
	createCT(b, s, "pve1", 100, nil)
	client := s.HTTPClient()
	url := s.Endpoint + "api2/json/nodes/pve1/lxc/100/config"
	auth := "PVEAPIToken=" + s.APIToken
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequestWithContext(b.Context(), http.MethodGet, url, nil)
			req.Header.Set("Authorization", auth)
			res, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			_ = res.Body.Close()
			if res.StatusCode != http.StatusOK {
				b.Errorf("status %d", res.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
