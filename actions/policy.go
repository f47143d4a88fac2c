package actions

import (
	"cmp"
	"errors"
	"fmt"
	"path"
	"time"

	"github.com/miner-detector/miner-detector/analyzer"
)

// Policy is the operator's say over what actions may do. The zero value is not
// valid; start from DefaultPolicy.
type Policy struct {
	// Enforce deletes pods; false is dry-run (report only), the default.
	Enforce bool `json:"enforce"`
	// StrikesToEnforce is how many consecutive cycles a pod must be judged a
	// miner before it is deleted: one bad window never deletes a pod.
	StrikesToEnforce int `json:"strikesToEnforce"`
	// MaxDeletionsPerCycle caps the deletions of one cycle.
	MaxDeletionsPerCycle int `json:"maxDeletionsPerCycle"`
	// ProtectedNamespaces are never touched: findings there are recorded and
	// notified, never deleted. Entries are shell patterns (path.Match).
	ProtectedNamespaces []string `json:"protectedNamespaces"`
	// Exemptions are pods the operator exempts from deletion. They come from
	// the operator's configuration only, never from a label or annotation a
	// tenant can set on its own pod.
	Exemptions []Exemption `json:"exemptions"`
	// DeleteWithoutProfiling allows deleting on utilization-only evidence
	// (a GPU without dcgm profiling metrics). Off by default: flat large-model
	// training looks the same on utilization alone. Findings are recorded and
	// notified either way.
	DeleteWithoutProfiling bool `json:"deleteWithoutProfiling"`
	// DeleteOnPartialEvidence allows deleting on partial evidence: math
	// pipes seen idle, but not every pipe FP32/FP64 work would use (the GPU
	// Operator's default counters export the tensor pipe only). Off by
	// default: FP32 HPC looks the same on the tensor pipe alone.
	DeleteOnPartialEvidence bool `json:"deleteOnPartialEvidence"`
	// DeleteForgersOnWeakEvidence lets a pod that served forged GPU
	// telemetry this cycle (Forgers) be deleted on partial or
	// utilization-only miner evidence of its own GPUs, from the exporter's
	// trusted series: forging is deliberate, which no telemetry fault or
	// training job does, so it stands in for the corroboration the weaker
	// grades lack. Off by default: a tenant running its own dcgm-exporter
	// for its dashboards forges nothing but looks the same. It never
	// deletes a forging pod without a miner verdict on its own GPUs, nor
	// past any other gate (shared GPUs, disagreeing series, ungraded
	// evidence, protection, strikes, the cap). It believes the serving pod
	// a forgery names, which only holds where no scrape job honors labels
	// on tenant targets (see the README's trust boundary).
	DeleteForgersOnWeakEvidence bool `json:"deleteForgersOnWeakEvidence"`
	// Forgers are the pods that served forged GPU telemetry this cycle
	// (promquery's untrusted targets that name their serving pod). Set by
	// the cycle, never from configuration.
	Forgers map[analyzer.PodKey]bool `json:"-"`
	// EscalateAfter is how many deletions of one owner within
	// EscalationPeriod make it a repeat offender: it is then escalated
	// instead of its pods being deleted again.
	EscalateAfter    int           `json:"escalateAfter"`
	EscalationPeriod time.Duration `json:"escalationPeriod"`
	// StopOwners scales an escalated owner to zero or suspends it (enforce
	// mode only; dry-run says it would).
	StopOwners bool `json:"stopOwners"`
	// Owners are the owners (top controllers) of this cycle's pods, as
	// far as they were resolved. Set by the cycle, never from
	// configuration.
	Owners map[analyzer.PodKey]Owner `json:"-"`
	// Silences, when set (alertmanagerSilences.suppressEnforcement), are this
	// cycle's active Alertmanager silences: a pod they silence is not deleted.
	// Set by the cycle, never from configuration.
	Silences *SilenceSet `json:"-"`
}

// Exemption matches pods by shell patterns (path.Match) on namespace and pod
// name; an empty field matches everything ("*"), but not both at once.
type Exemption struct {
	Namespace string `json:"namespace"`
	Pod       string `json:"pod"`
}

func (e Exemption) String() string {
	return cmp.Or(e.Namespace, "*") + "/" + cmp.Or(e.Pod, "*")
}

func (e Exemption) matches(k analyzer.PodKey) bool {
	return globMatch(cmp.Or(e.Namespace, "*"), k.Namespace) && globMatch(cmp.Or(e.Pod, "*"), k.Pod)
}

// DefaultPolicy is dry-run, two strikes, at most five deletions a cycle, and
// the cluster's own namespaces protected.
func DefaultPolicy() Policy {
	return Policy{
		Enforce:              false,
		StrikesToEnforce:     2,
		MaxDeletionsPerCycle: 5,
		ProtectedNamespaces:  []string{"kube-system", "gpu-operator", "nvidia-gpu-operator", "monitoring"},
		EscalateAfter:        3,
		EscalationPeriod:     24 * time.Hour,
	}
}

// Validate reports every invalid field, each error naming its field.
func (p Policy) Validate() error {
	var errs []error
	if p.StrikesToEnforce < 1 {
		errs = append(errs, fmt.Errorf("strikesToEnforce: must be >= 1, got %d", p.StrikesToEnforce))
	}
	if p.MaxDeletionsPerCycle < 1 {
		errs = append(errs, fmt.Errorf("maxDeletionsPerCycle: must be >= 1 (use dry-run to delete nothing), got %d", p.MaxDeletionsPerCycle))
	}
	if p.EscalateAfter < 1 {
		errs = append(errs, fmt.Errorf("escalateAfter: must be >= 1, got %d", p.EscalateAfter))
	}
	if p.EscalationPeriod <= 0 {
		errs = append(errs, fmt.Errorf("escalationPeriod: must be positive, got %v", p.EscalationPeriod))
	}
	for i, ns := range p.ProtectedNamespaces {
		if ns == "" {
			errs = append(errs, fmt.Errorf("protectedNamespaces[%d]: must not be empty", i))
		} else if err := checkPattern(ns); err != nil {
			errs = append(errs, fmt.Errorf("protectedNamespaces[%d]: %w", i, err))
		}
	}
	for i, e := range p.Exemptions {
		if e.Namespace == "" && e.Pod == "" {
			errs = append(errs, fmt.Errorf("exemptions[%d]: namespace and pod are both empty, which would exempt every pod (write \"*\" to mean it)", i))
			continue
		}
		if err := checkPattern(e.Namespace); err != nil {
			errs = append(errs, fmt.Errorf("exemptions[%d].namespace: %w", i, err))
		}
		if err := checkPattern(e.Pod); err != nil {
			errs = append(errs, fmt.Errorf("exemptions[%d].pod: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

// Protected reports whether the pod must never be deleted, and why: a
// protected namespace, an operator exemption or an Alertmanager silence on
// its GPUMinerDetected alert (matched on the alert's labels, so the report's
// node and shared count). It is the only place that decides it.
func (p Policy) Protected(r analyzer.PodReport) (bool, string) {
	k := r.PodKey
	for _, ns := range p.ProtectedNamespaces {
		if globMatch(ns, k.Namespace) {
			if ns == k.Namespace {
				return true, "protected namespace " + k.Namespace
			}
			return true, fmt.Sprintf("protected namespace %s (pattern %s)", k.Namespace, ns)
		}
	}
	for i, e := range p.Exemptions {
		if e.matches(k) {
			return true, fmt.Sprintf("exempted by exemptions[%d] (%s)", i, e)
		}
	}
	return p.Silences.protects(r)
}

func checkPattern(pattern string) error {
	if _, err := path.Match(pattern, ""); err != nil {
		return fmt.Errorf("bad pattern %q: %w", pattern, err)
	}
	return nil
}

// globMatch matches a shell pattern; a malformed one (which Validate rejects)
// matches only the name written exactly.
func globMatch(pattern, name string) bool {
	ok, err := path.Match(pattern, name)
	if err != nil {
		return pattern == name
	}
	return ok
}
