package backtest_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/miner-detector/miner-detector/internal/backtest"
)

func TestParseLabels(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 11, d, 0, 0, 0, 0, time.UTC) }
	tests := []struct {
		name string
		in   string
		want backtest.Labels
	}{
		{"empty file", "", backtest.Labels{}},
		{"comments only", "# nothing labelled yet\n", backtest.Labels{}},
		{"empty list", "miners: []\n", backtest.Labels{}},
		{
			name: "yaml with pods and podless GPUs",
			in: `# which pods / GPUs were miners, and when
miners:
  - {namespace: team-a, pod: batch-worker-x, from: 2026-11-24T00:00:00Z, to: 2026-11-25T00:00:00Z, note: "steady miner"}
  - {node: gpu-node-3, gpu: "1", from: 2026-11-24T00:00:00Z, note: "miner outside any pod"}
  - node: gpu-node-4
    gpu: 0          # an integer index is fine
  - uuid: GPU-8a3c
    to: "2026-11-25T02:00:00+02:00"
`,
			want: backtest.Labels{Miners: []backtest.Miner{
				{Namespace: "team-a", Pod: "batch-worker-x", From: day(24), To: day(25), Note: "steady miner"},
				{Node: "gpu-node-3", GPU: "1", From: day(24), Note: "miner outside any pod"},
				{Node: "gpu-node-4", GPU: "0"},
				{UUID: "GPU-8a3c", To: day(25)},
			}},
		},
		{
			name: "classes and benign entities",
			in: `miners:
  - {namespace: team-a, pod: token-0, class: adaptive}
  - {namespace: team-a, pod: token-0, from: 2026-11-24T00:00:00Z, class: adaptive}   # same pod, same class
  - {node: gpu-node-3, gpu: 1}                                                        # no class: unclassified
benign:
  - {namespace: ml, pod: train-0, class: legitimate, note: "3-day run"}
  - {uuid: GPU-8a3c, class: telemetry-fault}
  - {node: gpu-node-4, gpu: 2, class: legitimate}
`,
			want: backtest.Labels{
				Miners: []backtest.Miner{
					{Namespace: "team-a", Pod: "token-0", Class: "adaptive"},
					{Namespace: "team-a", Pod: "token-0", From: day(24), Class: "adaptive"},
					{Node: "gpu-node-3", GPU: "1"},
				},
				Benign: []backtest.Benign{
					{Namespace: "ml", Pod: "train-0", Class: "legitimate", Note: "3-day run"},
					{UUID: "GPU-8a3c", Class: "telemetry-fault"},
					{Node: "gpu-node-4", GPU: "2", Class: "legitimate"},
				},
			},
		},
		{
			name: "json is yaml",
			in:   `{"miners": [{"namespace": "ns", "pod": "p", "node": null, "gpu": null}]}`,
			want: backtest.Labels{Miners: []backtest.Miner{{Namespace: "ns", Pod: "p"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := backtest.ParseLabels(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
			for _, m := range got.Miners {
				if m.Class == "" && m.ClassOf() != backtest.Unclassified {
					t.Errorf("%+v: class of an entry without one is %q, want %q", m, m.ClassOf(), backtest.Unclassified)
				}
			}
		})
	}
}

func TestParseLabelsErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // each must appear in the error
	}{
		{"yaml syntax", "miners: [\n", []string{"labels: "}},
		{"not a mapping", "- a\n", []string{"labels: want a mapping, got array"}},
		{"unknown top-level field", "minres: []\n", []string{`labels: unknown field "minres"`}},
		{"miners not a list", "miners: 3\n", []string{"miners: want a list, got number"}},
		{"entry not a mapping", "miners: [3]\n", []string{"miners[0]: want a mapping, got number"}},
		{"unknown entry field", "miners:\n  - {namespace: a, pod: b}\n  - {nmespace: a, pod: b}\n", []string{`miners[1]: unknown field "nmespace"`}},
		{"field of the wrong type", "miners: [{namespace: [a], pod: b}]\n", []string{"miners[0].namespace: want a string, got array"}},
		{"time not RFC 3339", "miners: [{namespace: a, pod: b, from: 2026-11-24}]\n", []string{`miners[0].from: want an RFC 3339 time like 2026-11-24T00:00:00Z, got "2026-11-24"`}},
		{"yaml boolean for a string", "miners: [{node: n, gpu: 1}]\n", []string{"miners[0].node: want a string, got bool (quote it"}},
		{"time of the wrong type", "miners: [{namespace: a, pod: b, to: 5}]\n", []string{"miners[0].to: want a string, got number"}},
		{"to before from", "miners: [{namespace: a, pod: b, from: 2026-11-25T00:00:00Z, to: 2026-11-24T00:00:00Z}]\n", []string{"miners[0].to: 2026-11-24T00:00:00Z is not after from (2026-11-25T00:00:00Z)"}},
		{"to equal to from", "miners: [{namespace: a, pod: b, from: 2026-11-25T00:00:00Z, to: 2026-11-25T00:00:00Z}]\n", []string{"miners[0].to: "}},
		{"names nothing", "miners: [{note: \"who?\"}]\n", []string{"miners[0]: name a pod (namespace and pod) or a GPU"}},
		{"names a pod and a GPU", "miners: [{namespace: a, pod: b, node: node-1, gpu: 1}]\n", []string{"miners[0]: name either a pod", "not both"}},
		{"pod without namespace", "miners: [{pod: b}]\n", []string{"miners[0].namespace: required with pod"}},
		{"namespace without pod", "miners: [{namespace: a}]\n", []string{"miners[0].pod: required with namespace"}},
		{"gpu without node", "miners: [{gpu: 1}]\n", []string{"miners[0].node: required with gpu"}},
		{"node without gpu", "miners: [{node: node-1}]\n", []string{"miners[0].gpu: required with node (or give uuid)"}},
		{"negative gpu index", "miners: [{node: node-1, gpu: -1}]\n", []string{`miners[0].gpu: want a GPU index like "1", got -1`}},
		{"empty gpu index", "miners: [{node: node-1, gpu: \"\"}]\n", []string{"miners[0].gpu: empty"}},
		{"class with capitals", "miners: [{namespace: a, pod: b, class: Adaptive}]\n", []string{`miners[0].class: want lower-case letters, digits and hyphens (at most 40, like memory-hard), got "Adaptive"`}},
		{"class with a space", "miners: [{namespace: a, pod: b, class: \"ml pow\"}]\n", []string{`miners[0].class: want lower-case`}},
		{"class ending in a hyphen", "benign: [{namespace: a, pod: b, class: legit-}]\n", []string{`benign[0].class: want lower-case`}},
		{"benign without a class", "benign: [{namespace: a, pod: b}]\n", []string{"benign[0].class: required"}},
		{"benign naming nothing", "benign: [{class: legitimate}]\n", []string{"benign[0]: name a pod"}},
		{"benign with a time", "benign: [{namespace: a, pod: b, class: legitimate, from: 2026-11-24T00:00:00Z}]\n", []string{`benign[0]: unknown field "from"`}},
		{"benign not a list", "benign: {namespace: a}\n", []string{"benign: want a list, got object"}},
		{"benign bad gpu index", "benign: [{node: n-1, gpu: -3, class: legitimate}]\n", []string{`benign[0].gpu: want a GPU index like "1", got -3`}},
		{"one pod, two classes", "miners:\n  - {namespace: a, pod: b, class: steady}\n  - {namespace: a, pod: b, class: adaptive}\n",
			[]string{`miners[1].class: pod a/b is "adaptive" here but "steady" in miners[0]: one class per pod or GPU`}},
		{"one pod, a class and none", "miners:\n  - {namespace: a, pod: b, class: steady}\n  - {namespace: a, pod: b}\n",
			[]string{`miners[1].class: pod a/b is "unclassified" here but "steady" in miners[0]`}},
		{"a miner listed as benign", "miners: [{node: n-1, gpu: 0}]\nbenign: [{node: n-1, gpu: \"0\", class: legitimate}]\n",
			[]string{"benign[0]: gpu n-1/0 is labelled a miner in miners[0]: list it in one place"}},
		{"benign twice, two classes", "benign:\n  - {uuid: GPU-1, class: legitimate}\n  - {uuid: GPU-1, class: telemetry-fault}\n",
			[]string{`benign[1].class: gpu GPU-1 is "telemetry-fault" here but "legitimate" in benign[0]`}},
		{
			"every bad entry is reported",
			"miners:\n  - {namespace: a}\n  - {namespace: a, pod: b}\n  - {node: node-1, from: yesterday}\n",
			[]string{"miners[0].pod: required", "miners[2].from: want an RFC 3339", "miners[2].gpu: required"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := backtest.ParseLabels(strings.NewReader(tt.in))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestLabelsValidate(t *testing.T) {
	l := backtest.Labels{Miners: []backtest.Miner{{Namespace: "a", Pod: "b"}, {Pod: "b"}}}
	if err := l.Validate(); err == nil || !strings.Contains(err.Error(), "miners[1].namespace: required with pod") {
		t.Errorf("Validate() = %v", err)
	}
	l = backtest.Labels{Miners: []backtest.Miner{{Namespace: "a", Pod: "b", Class: "steady"}},
		Benign: []backtest.Benign{{Namespace: "a", Pod: "b", Class: "legitimate"}, {Namespace: "c", Pod: "d"}}}
	err := l.Validate()
	for _, want := range []string{"benign[0]: pod a/b is labelled a miner in miners[0]", "benign[1].class: required"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want %q", err, want)
		}
	}
	ok := backtest.Labels{Miners: []backtest.Miner{{Namespace: "a", Pod: "b", Class: "steady"}}, Benign: []backtest.Benign{{Namespace: "c", Pod: "d", Class: "legitimate"}}}
	if err := ok.Validate(); err != nil {
		t.Errorf("Validate() = %v, want nil", err)
	}
}

func TestTicks(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		from, to  time.Time
		every     time.Duration
		wantN     int
		wantLast  time.Time
		wantError string
	}{
		{"from equals to: one tick", t0, t0, time.Hour, 1, t0, ""},
		{"to on a tick", t0, t0.Add(24 * time.Hour), time.Hour, 25, t0.Add(24 * time.Hour), ""},
		{"to between ticks", t0, t0.Add(150 * time.Minute), time.Hour, 3, t0.Add(2 * time.Hour), ""},
		{"every longer than the range", t0, t0.Add(time.Minute), time.Hour, 1, t0, ""},
		{"exactly the cap", t0, t0.Add((backtest.MaxTicks - 1) * time.Minute), time.Minute, backtest.MaxTicks, t0.Add((backtest.MaxTicks - 1) * time.Minute), ""},
		{"one over the cap", t0, t0.Add(backtest.MaxTicks * time.Minute), time.Minute, 0, time.Time{}, "10001 ticks"},
		{"zero every", t0, t0.Add(time.Hour), 0, 0, time.Time{}, "every: must be positive"},
		{"negative every", t0, t0.Add(time.Hour), -time.Hour, 0, time.Time{}, "every: must be positive"},
		{"to before from", t0, t0.Add(-time.Second), time.Hour, 0, time.Time{}, "is before from"},
		{"missing from", time.Time{}, t0, time.Hour, 0, time.Time{}, "both required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := backtest.Ticks(tt.from, tt.to, tt.every)
			if tt.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantError) {
					t.Fatalf("error = %v, want %q", err, tt.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.wantN || !got[0].Equal(tt.from) || !got[len(got)-1].Equal(tt.wantLast) {
				t.Fatalf("got %d ticks %v..%v, want %d ending %v", len(got), got[0], got[len(got)-1], tt.wantN, tt.wantLast)
			}
			for i := 1; i < len(got); i++ {
				if got[i].Sub(got[i-1]) != tt.every {
					t.Fatalf("tick %d is %v after the previous", i, got[i].Sub(got[i-1]))
				}
			}
		})
	}
}
