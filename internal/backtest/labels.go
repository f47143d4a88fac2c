package backtest

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// Labels is the ground truth: which pods and GPUs were miners, and when,
// and what kind of miner or workload each labelled entity is (its class).
type Labels struct {
	Miners []Miner `json:"miners"`
	// Benign lists pods and GPUs known not to mine, each with its class,
	// so that their false positives are reported per class. An entity in
	// neither list is scored as before, in class Unclassified.
	Benign []Benign `json:"benign,omitempty"`
}

// Unclassified is the class of an entity whose labels give none: a labels
// file written before classes existed scores every entity in it.
const Unclassified = "unclassified"

// Miner is one labelled miner: a pod (Namespace and Pod) or a GPU used
// outside any pod (Node and GPU index, or UUID), mining over [From, To).
// A zero From or To leaves that end unbounded. Class says what kind of
// miner it is (e.g. steady, throttled, adaptive); empty is Unclassified.
type Miner struct {
	Namespace string    `json:"namespace,omitempty"`
	Pod       string    `json:"pod,omitempty"`
	Node      string    `json:"node,omitempty"`
	GPU       string    `json:"gpu,omitempty"`
	UUID      string    `json:"uuid,omitempty"`
	From      time.Time `json:"from,omitzero"`
	To        time.Time `json:"to,omitzero"`
	Class     string    `json:"class,omitempty"`
	Note      string    `json:"note,omitempty"`
}

// IsPod reports whether the entry names a pod rather than a GPU.
func (m Miner) IsPod() bool { return m.Pod != "" || m.Namespace != "" }

// Benign is one pod or GPU known not to mine over the whole backtest, and
// its class (required: e.g. legitimate, telemetry-fault).
type Benign struct {
	Namespace string `json:"namespace,omitempty"`
	Pod       string `json:"pod,omitempty"`
	Node      string `json:"node,omitempty"`
	GPU       string `json:"gpu,omitempty"`
	UUID      string `json:"uuid,omitempty"`
	Class     string `json:"class"`
	Note      string `json:"note,omitempty"`
}

// IsPod reports whether the entry names a pod rather than a GPU.
func (b Benign) IsPod() bool { return b.Pod != "" || b.Namespace != "" }

// ClassOf is the entry's class, Unclassified when it gives none.
func (m Miner) ClassOf() string { return cmp.Or(m.Class, Unclassified) }

// identity is the entity an entry names, as written.
func identity(namespace, pod, node, gpu, uuid string) string {
	if pod != "" || namespace != "" {
		return "pod " + namespace + "/" + pod
	}
	if uuid != "" && (node == "" || gpu == "") {
		return "gpu " + uuid
	}
	return "gpu " + node + "/" + gpu
}

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
	Class     string          `json:"class"`
	Note      string          `json:"note"`
}

// rawBenign is one benign entry as written.
type rawBenign struct {
	Namespace string          `json:"namespace"`
	Pod       string          `json:"pod"`
	Node      string          `json:"node"`
	GPU       json.RawMessage `json:"gpu"`
	UUID      string          `json:"uuid"`
	Class     string          `json:"class"`
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
		Benign []json.RawMessage `json:"benign"`
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
	for i, entry := range doc.Benign {
		prefix := fmt.Sprintf("benign[%d]", i)
		var rb rawBenign
		if err := strictDecode(entry, &rb); err != nil {
			errs = append(errs, fieldError(prefix, err))
			continue
		}
		b := Benign{Namespace: rb.Namespace, Pod: rb.Pod, Node: rb.Node, UUID: rb.UUID, Class: rb.Class, Note: rb.Note}
		var err error
		if len(rb.GPU) > 0 && string(rb.GPU) != "null" {
			if b.GPU, err = gpuIndex(rb.GPU); err != nil {
				err = fmt.Errorf("%s.gpu: %w", prefix, err)
			}
		}
		if err := errors.Join(err, b.validate(prefix)); err != nil {
			errs = append(errs, err)
			continue
		}
		l.Benign = append(l.Benign, b)
	}
	if len(errs) > 0 {
		return Labels{}, errors.Join(errs...)
	}
	if err := l.classesAgree(); err != nil {
		return Labels{}, err
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
	for i, b := range l.Benign {
		if err := b.validate(fmt.Sprintf("benign[%d]", i)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(append(errs, l.classesAgree())...)
}

// classesAgree checks that each entity, as written, has one class: every
// miner entry of it names the same class (an empty one is Unclassified),
// and an entity labelled a miner is not also listed as benign.
func (l Labels) classesAgree() error {
	type seen struct {
		class, at string
	}
	miners := map[string]seen{}
	var errs []error
	for i, m := range l.Miners {
		id, at := identity(m.Namespace, m.Pod, m.Node, m.GPU, m.UUID), fmt.Sprintf("miners[%d]", i)
		if prev, ok := miners[id]; ok && prev.class != m.ClassOf() {
			errs = append(errs, fmt.Errorf("%s.class: %s is %q here but %q in %s: one class per pod or GPU", at, id, m.ClassOf(), prev.class, prev.at))
			continue
		}
		if _, ok := miners[id]; !ok {
			miners[id] = seen{m.ClassOf(), at}
		}
	}
	benign := map[string]seen{}
	for i, b := range l.Benign {
		id, at := identity(b.Namespace, b.Pod, b.Node, b.GPU, b.UUID), fmt.Sprintf("benign[%d]", i)
		if prev, ok := miners[id]; ok {
			errs = append(errs, fmt.Errorf("%s: %s is labelled a miner in %s: list it in one place", at, id, prev.at))
			continue
		}
		if prev, ok := benign[id]; ok && prev.class != b.Class {
			errs = append(errs, fmt.Errorf("%s.class: %s is %q here but %q in %s: one class per pod or GPU", at, id, b.Class, prev.class, prev.at))
			continue
		}
		benign[id] = seen{b.Class, at}
	}
	return errors.Join(errs...)
}

func (rm rawMiner) miner(prefix string) (Miner, error) {
	m := Miner{Namespace: rm.Namespace, Pod: rm.Pod, Node: rm.Node, UUID: rm.UUID, Class: rm.Class, Note: rm.Note}
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
	errs := []error{validateEntity(prefix, m.Namespace, m.Pod, m.Node, m.GPU, m.UUID)}
	if m.Class != "" {
		errs = append(errs, validateClass(prefix, m.Class))
	}
	if !m.From.IsZero() && !m.To.IsZero() && !m.To.After(m.From) {
		errs = append(errs, fmt.Errorf("%s.to: %s is not after from (%s)", prefix,
			m.To.UTC().Format(time.RFC3339), m.From.UTC().Format(time.RFC3339)))
	}
	return errors.Join(errs...)
}

func (b Benign) validate(prefix string) error {
	errs := []error{validateEntity(prefix, b.Namespace, b.Pod, b.Node, b.GPU, b.UUID)}
	if b.Class == "" {
		errs = append(errs, fmt.Errorf("%s.class: required: what the pod or GPU is (e.g. legitimate, telemetry-fault)", prefix))
	} else {
		errs = append(errs, validateClass(prefix, b.Class))
	}
	return errors.Join(errs...)
}

// validateEntity checks that an entry names one pod or one GPU.
func validateEntity(prefix, namespace, pod, node, gpu, uuid string) error {
	hasPod := namespace != "" || pod != ""
	hasGPU := node != "" || gpu != "" || uuid != ""
	switch {
	case hasPod && hasGPU:
		return fmt.Errorf("%s: name either a pod (namespace and pod) or a GPU outside any pod (node and gpu, or uuid), not both", prefix)
	case !hasPod && !hasGPU:
		return fmt.Errorf("%s: name a pod (namespace and pod) or a GPU outside any pod (node and gpu, or uuid)", prefix)
	case hasPod && namespace == "":
		return fmt.Errorf("%s.namespace: required with pod", prefix)
	case hasPod && pod == "":
		return fmt.Errorf("%s.pod: required with namespace", prefix)
	case !hasPod && uuid == "" && node == "":
		return fmt.Errorf("%s.node: required with gpu", prefix)
	case !hasPod && uuid == "" && gpu == "":
		return fmt.Errorf("%s.gpu: required with node (or give uuid)", prefix)
	}
	return nil
}

// validateClass accepts a class name as tables print it: lower-case
// letters, digits and inner hyphens, at most 40 characters.
func validateClass(prefix, class string) error {
	ok := len(class) <= 40 && class[0] != '-' && class[len(class)-1] != '-'
	for _, c := range class {
		ok = ok && (c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-')
	}
	if !ok {
		return fmt.Errorf("%s.class: want lower-case letters, digits and hyphens (at most 40, like memory-hard), got %q", prefix, class)
	}
	return nil
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
		return fmt.Errorf("%s: want %s, got %s%s", cmp.Or(join(te.Field), "labels"), want, te.Value, hint)
	}
	if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return fmt.Errorf("%s: unknown field %s", cmp.Or(prefix, "labels"), field)
	}
	return fmt.Errorf("%s: %w", cmp.Or(prefix, "labels"), err)
}
