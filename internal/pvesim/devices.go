package pvesim

import (
	"path"
	"slices"
	"strings"
)

// DefaultDevices are the device nodes (character or block) of a node's /dev
// when Options.NodeDevices does not list the node: the usual ones of a
// Proxmox VE host with an LVM-thin disk, a FUSE and TUN module, an Intel or
// AMD GPU's render node and two NVIDIA GPUs with their driver loaded.
var DefaultDevices = []string{
	"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/console", "/dev/ptmx",
	"/dev/kmsg", "/dev/mem", "/dev/kvm", "/dev/fuse", "/dev/net/tun", "/dev/loop0", "/dev/loop-control",
	"/dev/sda", "/dev/sda1", "/dev/sda2", "/dev/sda3", "/dev/sdb", "/dev/sdb1", "/dev/dm-0", "/dev/dm-1",
	"/dev/mapper/pve-root", "/dev/mapper/pve-swap", "/dev/block/8:0", "/dev/block/8:16",
	"/dev/dri/card0", "/dev/dri/renderD128",
	"/dev/nvidia0", "/dev/nvidia1", "/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidia-modeset",
	"/dev/ttyS0", "/dev/ttyUSB0", "/dev/bus/usb/001/001",
}

// hostFiles are paths of a node that exist and are no device nodes, beside
// the directories holding the devices.
var hostFiles = []string{"/", "/dev/shm", "/dev/pts", "/etc", "/etc/passwd", "/etc/shadow", "/etc/pve", "/root", "/proc", "/sys", "/tmp", "/var", "/usr"}

// devices are the device nodes of node.
func (s *server) devices(node string) []string {
	if d, ok := s.opts.NodeDevices[node]; ok {
		return d
	}
	return DefaultDevices
}

// checkDevice is PVE::LXC::Tools::get_device_mode_and_rdev on node: the
// path must exist there and be a block or character device.
func (s *server) checkDevice(node, p string) error {
	if p == "" {
		return errf("Path is not defined")
	}
	clean := path.Clean(p)
	devs := s.devices(node)
	if slices.Contains(devs, clean) {
		return nil
	}
	exists := slices.Contains(hostFiles, clean)
	for _, d := range devs {
		if strings.HasPrefix(d, clean+"/") {
			exists = true
		}
	}
	if !exists {
		return errf("Device %s does not exist", p)
	}
	return errf("%s is not a device", p)
}
