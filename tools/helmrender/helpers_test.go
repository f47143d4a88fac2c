package main

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

// chartDir is the chart under test, from this module's directory.
var chartDir = filepath.Join("..", "..", "deploy", "helm", "miner-detector")

// object is one rendered document: its template, its kind and name, and the
// typed object when client-go knows the kind (nil for CRDs' kinds).
type object struct {
	Source    string
	Kind      string
	Name      string
	Namespace string
	Raw       []byte
	Typed     runtime.Object
	Fields    map[string]any
}

// render renders the chart with the given --set overrides and fails the
// test on an error.
func render(t *testing.T, set ...string) []object {
	t.Helper()
	return renderOptions(t, Options{Set: set})
}

// renderOptions renders the chart with o and fails the test on an error.
func renderOptions(t *testing.T, o Options) []object {
	t.Helper()
	out, err := Render(chartDir, o)
	if err != nil {
		t.Fatalf("render with %q %q: %v", o.ValueFiles, o.Set, err)
	}
	objs, err := decode(out)
	if err != nil {
		t.Fatalf("decode the render with %q %q: %v", o.ValueFiles, o.Set, err)
	}
	return objs
}

// strict decodes Kubernetes objects rejecting unknown and duplicate fields,
// so a misplaced key in a template fails the tests instead of being dropped
// by the API server.
var strict = json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme.Scheme, scheme.Scheme,
	json.SerializerOptions{Yaml: true, Strict: true})

// decode splits rendered manifests into objects.
func decode(manifests []byte) ([]object, error) {
	var objs []object
	for _, doc := range bytes.Split(manifests, []byte("\n---\n")) {
		var fields map[string]any
		if err := yaml.Unmarshal(doc, &fields); err != nil {
			return nil, err
		}
		if len(fields) == 0 {
			continue // the header, or an empty template
		}
		u := unstructured.Unstructured{Object: fields}
		o := object{Kind: u.GetKind(), Name: u.GetName(), Namespace: u.GetNamespace(), Raw: doc, Fields: fields}
		if first, _, ok := bytes.Cut(doc, []byte("\n")); ok && bytes.HasPrefix(first, []byte("# Source: ")) {
			o.Source = strings.TrimPrefix(string(first), "# Source: ")
		}
		if typed, _, err := strict.Decode(doc, nil, nil); err == nil {
			o.Typed = typed
		} else if !runtime.IsNotRegisteredError(err) {
			return nil, fmt.Errorf("%s %s (%s): %w", o.Kind, o.Name, o.Source, err)
		}
		objs = append(objs, o)
	}
	return objs, nil
}

// ofKind returns the typed objects of type T.
func ofKind[T runtime.Object](objs []object) []T {
	var out []T
	for _, o := range objs {
		if x, ok := o.Typed.(T); ok {
			out = append(out, x)
		}
	}
	return out
}

// kinds counts the objects per kind.
func kinds(objs []object) map[string]int {
	n := map[string]int{}
	for _, o := range objs {
		n[o.Kind]++
	}
	return n
}
