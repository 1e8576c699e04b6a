package dispatch

import "testing"

func TestSbatchGPUs(t *testing.T) {
	tests := []struct {
		name string
		opts []string
		want bool
	}{
		{name: "none", opts: nil},
		{name: "cpu options", opts: []string{"--time=1", "--partition", "gpu-less", "--mem=4G"}},
		{name: "gres joined", opts: []string{"--gres=gpu:1"}, want: true},
		{name: "gres typed", opts: []string{"--gres=gpu:a100:2"}, want: true},
		{name: "gres split", opts: []string{"--gres", "gpu:1"}, want: true},
		{name: "gres of another kind", opts: []string{"--gres=nvme:1"}},
		{name: "gpus", opts: []string{"--gpus=2"}, want: true},
		{name: "gpus per node", opts: []string{"--gpus-per-node", "1"}, want: true},
		{name: "short", opts: []string{"-G", "1"}, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sbatchGPUs(tt.opts); got != tt.want {
				t.Errorf("sbatchGPUs(%q) = %v, want %v", tt.opts, got, tt.want)
			}
		})
	}
}
