package backtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// Labels is the ground truth: which pods and GPUs were miners, and when.
type Labels struct {
	Miners []Miner `json:"miners"`
}

// Miner is one labelled miner: a pod (Namespace and Pod) or a GPU used
// outside any pod (Node and GPU index, or UUID), mining over [From, To).
// A zero From or To leaves that end unbounded.
type Miner struct {
	Namespace string    `json:"namespace,omitempty"`
	Pod       string    `json:"pod,omitempty"`
	Node      string    `json:"node,omitempty"`
	GPU       string    `json:"gpu,omitempty"`
	UUID      string    `json:"uuid,omitempty"`
	From      time.Time `json:"from,omitzero"`
	To        time.Time `json:"to,omitzero"`
	Note      string    `json:"note,omitempty"`
}

// IsPod reports whether the entry names a pod rather than a GPU.
func (m Miner) IsPod() bool { return m.Pod != "" || m.Namespace != "" }

// rawMiner is one entry as written; times and the GPU index are checked by
// hand so that every error can name its field.
type rawMiner struct {
	Namespace string          `json:"namespace"`
	Pod       string          `json:"pod"`
	Node      string          `json:"node"`
	GPU       json.RawMessage `json:"gpu"`
	UUID      string          `json:"uuid"`
	From      *string         `json:"from"`
	To        *string         `json:"to"`
	Note      string          `json:"note"`
}

// ParseLabels reads a labels file (YAML or JSON). Unknown fields are errors;
// every error names the entry and field, e.g. "miners[2].to: before from".
func ParseLabels(r io.Reader) (Labels, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return Labels{}, fmt.Errorf("read labels: %w", err)
	}
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return Labels{}, fmt.Errorf("labels: %w", err)
	}
	var doc struct {
		Miners []json.RawMessage `json:"miners"`
	}
	if err := strictDecode(js, &doc); err != nil {
		return Labels{}, fieldError("", err)
	}
	var (
		l    Labels
		errs []error
	)
	for i, entry := range doc.Miners {
		prefix := fmt.Sprintf("miners[%d]", i)
		var rm rawMiner
		if err := strictDecode(entry, &rm); err != nil {
			errs = append(errs, fieldError(prefix, err))
			continue
		}
		m, err := rm.miner(prefix)
		if err := errors.Join(err, m.validate(prefix)); err != nil {
			errs = append(errs, err)
			continue
		}
		l.Miners = append(l.Miners, m)
	}
	if len(errs) > 0 {
		return Labels{}, errors.Join(errs...)
	}
	return l, nil
}

// Validate checks every entry as ParseLabels does, for labels built in code.
func (l Labels) Validate() error {
	var errs []error
	for i, m := range l.Miners {
		if err := m.validate(fmt.Sprintf("miners[%d]", i)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (rm rawMiner) miner(prefix string) (Miner, error) {
	m := Miner{Namespace: rm.Namespace, Pod: rm.Pod, Node: rm.Node, UUID: rm.UUID, Note: rm.Note}
	var errs []error
	if len(rm.GPU) > 0 && string(rm.GPU) != "null" {
		gpu, err := gpuIndex(rm.GPU)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.gpu: %w", prefix, err))
		}
		m.GPU = gpu
	}
	for _, f := range []struct {
		name string
		in   *string
		out  *time.Time
	}{{"from", rm.From, &m.From}, {"to", rm.To, &m.To}} {
		if f.in == nil {
			continue
		}
		t, err := time.Parse(time.RFC3339, *f.in)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.%s: want an RFC 3339 time like 2026-11-24T00:00:00Z, got %q", prefix, f.name, *f.in))
			continue
		}
		*f.out = t.UTC()
	}
	return m, errors.Join(errs...)
}

// gpuIndex accepts the index as a string ("1") or a non-negative integer (1).
func gpuIndex(raw json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if s == "" {
			return "", errors.New("empty")
		}
		return s, nil
	}
	n, err := strconv.ParseUint(string(raw), 10, 32)
	if err != nil {
		return "", fmt.Errorf("want a GPU index like \"1\", got %s", raw)
	}
	return strconv.FormatUint(n, 10), nil
}

func (m Miner) validate(prefix string) error {
	hasPod := m.Namespace != "" || m.Pod != ""
	hasGPU := m.Node != "" || m.GPU != "" || m.UUID != ""
	var errs []error
	switch {
	case hasPod && hasGPU:
		errs = append(errs, fmt.Errorf("%s: name either a pod (namespace and pod) or a GPU outside any pod (node and gpu, or uuid), not both", prefix))
	case !hasPod && !hasGPU:
		errs = append(errs, fmt.Errorf("%s: name a pod (namespace and pod) or a GPU outside any pod (node and gpu, or uuid)", prefix))
	case hasPod && m.Namespace == "":
		errs = append(errs, fmt.Errorf("%s.namespace: required with pod", prefix))
	case hasPod && m.Pod == "":
		errs = append(errs, fmt.Errorf("%s.pod: required with namespace", prefix))
	case !hasPod && m.UUID == "" && m.Node == "":
		errs = append(errs, fmt.Errorf("%s.node: required with gpu", prefix))
	case !hasPod && m.UUID == "" && m.GPU == "":
		errs = append(errs, fmt.Errorf("%s.gpu: required with node (or give uuid)", prefix))
	}
	if !m.From.IsZero() && !m.To.IsZero() && !m.To.After(m.From) {
		errs = append(errs, fmt.Errorf("%s.to: %s is not after from (%s)", prefix,
			m.To.UTC().Format(time.RFC3339), m.From.UTC().Format(time.RFC3339)))
	}
	return errors.Join(errs...)
}

func strictDecode(js []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// fieldError rewrites encoding/json's errors to name the field under prefix.
func fieldError(prefix string, err error) error {
	join := func(field string) string {
		switch {
		case prefix == "":
			return field
		case field == "":
			return prefix
		default:
			return prefix + "." + field
		}
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		want := "a " + te.Type.Kind().String()
		switch te.Type.Kind().String() {
		case "slice":
			want = "a list"
		case "struct", "map":
			want = "a mapping"
		case "ptr":
			want = "a string"
		}
		hint := ""
		if te.Value == "bool" {
			hint = " (quote it: YAML reads yes, no, on, off, y and n as booleans)"
		}
		return fmt.Errorf("%s: want %s, got %s%s", or(join(te.Field), "labels"), want, te.Value, hint)
	}
	if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return fmt.Errorf("%s: unknown field %s", or(prefix, "labels"), field)
	}
	return fmt.Errorf("%s: %w", or(prefix, "labels"), err)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
