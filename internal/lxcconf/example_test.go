package lxcconf_test

import (
	"fmt"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/lxcconf"
)

// Set the AppArmor profile of a container in its main section only: the
// snapshot keeps the profile it was taken with.
func Example() {
	conf := []byte(`#Docker host%3A CI
arch: amd64
features: keyctl=1,nesting=1
lxc.apparmor.profile: unconfined

[pre-docker]
arch: amd64
lxc.apparmor.profile: unconfined
snaptime: 1718000000
`)
	c, err := lxcconf.Parse(conf)
	if err != nil {
		panic(err)
	}
	c.Main().DeleteLXC("lxc.apparmor.profile")
	c.Main().AddLXC("lxc.apparmor.profile", "lxc-docker-secure")
	fmt.Printf("%s", c.Bytes())
	fmt.Printf("description: %q\n", c.Main().Description())
	// Output:
	// #Docker host%3A CI
	// arch: amd64
	// features: keyctl=1,nesting=1
	// lxc.apparmor.profile: lxc-docker-secure
	//
	// [pre-docker]
	// arch: amd64
	// lxc.apparmor.profile: unconfined
	// snaptime: 1718000000
	// description: "Docker host: CI\n"
}

// A digest taken when the file was read lets a writer detect a concurrent
// change, as PVE's digest parameter does.
func ExampleDigest() {
	fmt.Println(lxcconf.Digest([]byte("arch: amd64\n")))
	// Output: 151d53297197ce4180a960ae4c28cfd01cac379c
}
