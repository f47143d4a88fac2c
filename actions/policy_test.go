package actions

import (
	"strings"
	"testing"

	"github.com/miner-detector/miner-detector/analyzer"
)

func TestDefaultPolicy(t *testing.T) {
	p := DefaultPolicy()
	if err := p.Validate(); err != nil {
		t.Fatalf("DefaultPolicy().Validate() = %v", err)
	}
	if p.Enforce || p.StrikesToEnforce != 2 || p.MaxDeletionsPerCycle != 5 {
		t.Errorf("defaults: enforce %t strikes %d cap %d, want dry-run, 2, 5", p.Enforce, p.StrikesToEnforce, p.MaxDeletionsPerCycle)
	}
	for _, ns := range []string{"kube-system", "gpu-operator", "nvidia-gpu-operator", "monitoring"} {
		if ok, _ := p.Protected(analyzer.PodReport{PodKey: key(ns, "any")}); !ok {
			t.Errorf("namespace %s not protected by default", ns)
		}
	}
}

func TestPolicyValidate(t *testing.T) {
	cases := []struct {
		name    string
		edit    func(*Policy)
		wantErr string // empty: valid
	}{
		{"defaults", func(*Policy) {}, ""},
		{"zero strikes", func(p *Policy) { p.StrikesToEnforce = 0 }, "strikesToEnforce: must be >= 1, got 0"},
		{"zero cap", func(p *Policy) { p.MaxDeletionsPerCycle = 0 }, "maxDeletionsPerCycle: must be >= 1"},
		{"negative cap", func(p *Policy) { p.MaxDeletionsPerCycle = -1 }, "got -1"},
		{"empty protected namespace", func(p *Policy) { p.ProtectedNamespaces = append(p.ProtectedNamespaces, "") }, "protectedNamespaces[4]: must not be empty"},
		{"bad protected pattern", func(p *Policy) { p.ProtectedNamespaces = []string{"kube-["} }, `protectedNamespaces[0]: bad pattern "kube-["`},
		{"protected pattern", func(p *Policy) { p.ProtectedNamespaces = []string{"kube-*"} }, ""},
		{"exemption by namespace only", func(p *Policy) { p.Exemptions = []Exemption{{Namespace: "bench"}} }, ""},
		{"exemption by pod only", func(p *Policy) { p.Exemptions = []Exemption{{Pod: "burn-in-*"}} }, ""},
		{"exemption of everything must be written out", func(p *Policy) { p.Exemptions = []Exemption{{Namespace: "*", Pod: "*"}} }, ""},
		{"empty exemption (a typo'd key) is rejected", func(p *Policy) { p.Exemptions = []Exemption{{Namespace: "a"}, {}} }, "exemptions[1]: namespace and pod are both empty"},
		{"bad exemption namespace pattern", func(p *Policy) { p.Exemptions = []Exemption{{Namespace: "[a-", Pod: "x"}} }, `exemptions[0].namespace: bad pattern "[a-"`},
		{"bad exemption pod pattern", func(p *Policy) { p.Exemptions = []Exemption{{Namespace: "ns", Pod: `x\`}} }, `exemptions[0].pod: bad pattern`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := DefaultPolicy()
			c.edit(&p)
			err := p.Validate()
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case c.wantErr != "" && err == nil:
				t.Fatalf("Validate() = nil, want %q", c.wantErr)
			case c.wantErr != "" && !strings.Contains(err.Error(), c.wantErr):
				t.Fatalf("Validate() = %q, want it to contain %q", err, c.wantErr)
			}
		})
	}
}

func TestPolicyValidateReportsEveryField(t *testing.T) {
	p := Policy{StrikesToEnforce: 0, MaxDeletionsPerCycle: 0}
	err := p.Validate()
	if err == nil || !strings.Contains(err.Error(), "strikesToEnforce") || !strings.Contains(err.Error(), "maxDeletionsPerCycle") {
		t.Fatalf("Validate() = %v, want both invalid fields named", err)
	}
}

func TestPolicyProtected(t *testing.T) {
	p := DefaultPolicy()
	p.ProtectedNamespaces = append(p.ProtectedNamespaces, "infra-*")
	p.Exemptions = []Exemption{
		{Namespace: "bench"},
		{Pod: "burn-in-*"},
		{Namespace: "ns-*", Pod: "train-*"},
	}
	cases := []struct {
		ns, pod    string
		want       bool
		wantReason string
	}{
		{"kube-system", "nvidia-dcgm", true, "protected namespace kube-system"},
		{"monitoring", "prometheus-0", true, "protected namespace monitoring"},
		{"infra-gpu", "x", true, "protected namespace infra-gpu (pattern infra-*)"},
		{"kube-system-2", "x", false, ""},
		{"bench", "anything", true, "exempted by exemptions[0] (bench/*)"},
		{"team-a", "burn-in-7", true, "exempted by exemptions[1] (*/burn-in-*)"},
		{"ns-vision", "train-resnet", true, "exempted by exemptions[2] (ns-*/train-*)"},
		{"ns-vision", "xmrig", false, ""},
		{"team-a", "train-resnet", false, ""},
		{"team-a", "job", false, ""},
	}
	for _, c := range cases {
		got, reason := p.Protected(analyzer.PodReport{PodKey: key(c.ns, c.pod)})
		if got != c.want || reason != c.wantReason {
			t.Errorf("Protected(%s/%s) = %t, %q; want %t, %q", c.ns, c.pod, got, reason, c.want, c.wantReason)
		}
	}
}

// A malformed protected-namespace pattern (never valid, but Protected must
// not fail open on it) still protects the namespace written exactly.
func TestPolicyProtectedMalformedPatternFailsClosed(t *testing.T) {
	p := Policy{ProtectedNamespaces: []string{"ops["}}
	if ok, _ := p.Protected(analyzer.PodReport{PodKey: key("ops[", "x")}); !ok {
		t.Error("namespace named exactly like a malformed pattern is not protected")
	}
}
