// Command helmrender renders the miner-detector Helm chart like
// `helm template`, without a helm binary or a cluster; it produces
// deploy/manifests/miner-detector.yaml. Its tests lint the chart, check the
// values schema and keep the plain manifests equal to the chart's render.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "helmrender:", err)
		os.Exit(1)
	}
}

// listFlag collects a repeated flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("helmrender", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o Options
	fs.Var((*listFlag)(&o.Set), "set", "a value override, key=value as helm --set spells it (repeatable)")
	fs.Var((*listFlag)(&o.ValueFiles), "f", "a values file (repeatable)")
	fs.StringVar(&o.Namespace, "namespace", DefaultNamespace, "release namespace")
	fs.StringVar(&o.Release, "release", DefaultRelease, "release name")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: helmrender [-set k=v ...] [-f values.yaml ...] [-namespace ns] [-release name] <chartdir>")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("want one chart directory, got %d arguments", fs.NArg())
	}
	out, err := Render(fs.Arg(0), o)
	if err != nil {
		return err
	}
	if _, err := stdout.Write(out); err != nil {
		return fmt.Errorf("write manifests: %w", err)
	}
	return nil
}
