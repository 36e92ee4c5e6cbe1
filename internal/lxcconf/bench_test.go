package lxcconf

import "testing"

func BenchmarkParse(b *testing.B) {
	data := readFixture(b, "docker-102.conf")
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseSetLXCBytes(b *testing.B) {
	data := readFixture(b, "docker-102.conf")
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		c, err := Parse(data)
		if err != nil {
			b.Fatal(err)
		}
		c.Main().SetLXC("lxc.apparmor.profile", "lxc-docker-secure-v2")
		_ = c.Bytes()
	}
}
