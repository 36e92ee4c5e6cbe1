package params

import "testing"

func BenchmarkValidateDockerCreate(b *testing.B) {
	req := dockerCreate()
	for b.Loop() {
		if Validate("POST", createPath, req) != nil {
			b.Fatal("refused")
		}
	}
}

func BenchmarkParsePropertyNet(b *testing.B) {
	for b.Loop() {
		if _, err := ParseProperty("net0", "name=eth0,bridge=vmbr0,ip=10.0.0.202/24,gw=10.0.0.1,hwaddr=BC:24:11:AA:BB:CC"); err != nil {
			b.Fatal(err)
		}
	}
}
