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

func BenchmarkParseReplaceLXCBytes(b *testing.B) {
	data := readFixture(b, "docker-102.conf")
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		c, err := Parse(data)
		if err != nil {
			b.Fatal(err)
		}
		c.Main().DeleteLXC("lxc.apparmor.profile")
		c.Main().AddLXC("lxc.apparmor.profile", "lxc-docker-secure-v2")
		_ = c.Bytes()
	}
}
