package sshd

import "testing"

func BenchmarkNodeCommand(b *testing.B) {
	e := newTestEnvTB(b)
	for b.Loop() {
		if r := runOn(b, e.client, "true", ""); r.exit != 0 {
			b.Fatal(r)
		}
	}
}

func BenchmarkPctExec(b *testing.B) {
	e := newTestEnvTB(b)
	e.addCT(102, ctConf(102, "nesting=1,keyctl=1"), true)
	runOn(b, e.client, "pct exec 102 -- true", "")
	for b.Loop() {
		if r := runOn(b, e.client, "pct exec 102 -- true", ""); r.exit != 0 {
			b.Fatal(r)
		}
	}
}
