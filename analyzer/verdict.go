package analyzer

// Verdict is the analyzer's judgement of a GPU or a pod.
type Verdict string

const (
	// Benign: enough data and no rule fired.
	Benign Verdict = "benign"
	// InsufficientData: too few samples in the window to judge; never acted on.
	InsufficientData Verdict = "insufficient_data"
	// Miner: a rule fired on enough data.
	Miner Verdict = "miner"
	// BusyWithoutPod: a GPU no pod holds is busy; a finding on the node,
	// never a deletion. Only unattributed GPUs get it.
	BusyUnattributed Verdict = "busy_without_pod"
)

// Severity orders verdicts: a pod takes its most severe GPU's verdict.
func (v Verdict) Severity() int {
	switch v {
	case Miner, BusyUnattributed:
		return 2
	case InsufficientData:
		return 1
	default:
		return 0
	}
}

// Verdicts lists every pod verdict, least severe first (BusyUnattributed
// is only ever a GPU's).
func Verdicts() []Verdict { return []Verdict{Benign, InsufficientData, Miner} }
