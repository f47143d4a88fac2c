package analyzer

import "time"

// GPU identifies one physical GPU (or MIG instance) as dcgm-exporter labels it.
type GPU struct {
	Node  string `json:"node"`
	Index string `json:"gpu"`
	UUID  string `json:"uuid"`
	Model string `json:"model"`
	// MIGInstance is the MIG GPU instance id (dcgm-exporter's GPU_I_ID) and
	// MIGProfile its profile ("1g.10gb"); empty for a whole GPU.
	MIGInstance string `json:"mig_instance,omitempty"`
	MIGProfile  string `json:"mig_profile,omitempty"`
}

// Key identifies the GPU across series: its UUID, or node and index when the
// exporter gives no UUID; a MIG instance adds its instance id.
func (g GPU) Key() string {
	k := g.UUID
	if k == "" {
		k = g.Node + "/" + g.Index
	}
	if g.MIGInstance != "" {
		k += "/mig-" + g.MIGInstance
	}
	return k
}

// Workload is the pod a series attributes the GPU to. An empty Pod means the
// GPU was idle or used outside any pod.
type Workload struct {
	Namespace string
	Pod       string
	Container string
}

// PodKey identifies a pod: the same name in two namespaces is two pods.
type PodKey struct {
	Namespace string `json:"namespace"`
	Pod       string `json:"pod"`
}

func (k PodKey) String() string { return k.Namespace + "/" + k.Pod }

// Chunk holds the moments of one series over one chunk of the window, the
// chunk ending at End (left-open: (End-chunk, End]).
type Chunk struct {
	End Instant
	Moments
	// BadSamples counts samples already excluded as invalid by the producer
	// (for instance after re-reading a chunk's raw samples).
	BadSamples int64
}

// Series is one time series of one signal over the window.
type Series struct {
	// Signal is what the series measures; the zero value is utilization.
	Signal Signal
	// Source is the GPU and pod the series is about, shared by the series
	// of every signal of one label set (a fleet's 170,000 series hold
	// 10,000 sources, not 170,000 copies). A series without one is about
	// no GPU and no pod.
	*Source
	Chunks []Chunk
}

// Source is what a series is about: the GPU and the pod using it, and where
// it came from.
type Source struct {
	GPU      GPU
	Workload Workload
	// Origin names the scrape target that served the series (job, instance;
	// empty when the producer does not know): how a report tells apart two
	// series of one GPU that disagree.
	Origin string
}

// noSource is the source of a series given none.
var noSource = &Source{}

// source is s's source, never nil.
func (s *Series) source() *Source {
	if s.Source == nil {
		return noSource
	}
	return s.Source
}

// Input is everything the analyzer needs for one evaluation.
type Input struct {
	End    time.Time     // the window is (End-Window, End]
	Window time.Duration // length of the window
	Chunk  time.Duration // length of one chunk; Window is a multiple of it
	// Segment is the length of the parts the profiling signals were read
	// in (a multiple of Chunk that divides Window); zero or Window: the
	// window is one part. A GPU the window spares is judged again on each.
	Segment time.Duration
	Series  []Series
}

// Instant is a time to the millisecond (Prometheus's resolution), as Unix
// milliseconds: 8 bytes where a time.Time takes 24, and a fleet's input holds
// a chunk end per chunk (600,000 at 10,000 GPUs over 1h). The zero Instant
// is "no time".
type Instant int64

// At is t to the millisecond; the zero time is the zero Instant.
func At(t time.Time) Instant {
	if t.IsZero() {
		return 0
	}
	return Instant(t.UnixMilli())
}

// Time is i in UTC; the zero Instant is the zero time.
func (i Instant) Time() time.Time {
	if i == 0 {
		return time.Time{}
	}
	return time.UnixMilli(int64(i)).UTC()
}

// IsZero says whether i is the zero Instant.
func (i Instant) IsZero() bool { return i == 0 }
