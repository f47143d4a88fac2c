package main

// The image cannot be built here (no Docker engine), so these tests read
// the Dockerfile and check what matters about it: its build stage's
// `go build` command is run exactly as written (working directory = the
// repository root, as WORKDIR /src after COPY . .; VERSION in the
// environment, as --build-arg VERSION does) and the binary must be static
// and report that version; the final stage must be distroless, non-root and
// start the binary; and `make build` must run the same command.

import (
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

const (
	dockerfilePath     = "../../Dockerfile"
	dockerfileMakefile = "../../Makefile"
	dockerfileGoMod    = "../../go.mod"
	// dockerfileTestVersion stands for --build-arg VERSION=… (and make's VERSION).
	dockerfileTestVersion = "v9.8.7-dockerfile-test"
)

// dockerInstruction is one Dockerfile instruction, continuations joined.
type dockerInstruction struct {
	Cmd  string // upper case: FROM, RUN, COPY, …
	Args string
	Line int
}

// dockerStage is a FROM and the instructions after it.
type dockerStage struct {
	Image, Name  string
	Instructions []dockerInstruction
}

// parseDockerfile splits the Dockerfile into stages. Like Docker, it drops
// comment lines (also inside a continuation) and joins a line ending in a
// backslash with the next one.
func parseDockerfile(t *testing.T) []dockerStage {
	t.Helper()
	data, err := os.ReadFile(dockerfilePath)
	if err != nil {
		t.Fatal(err)
	}
	var instrs []dockerInstruction
	var cur strings.Builder
	start := 0
	for i, raw := range strings.Split(string(data), "\n") {
		line := strings.TrimRight(raw, " \t\r")
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if body, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(body)
			continue
		}
		cur.WriteString(line)
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		if text == "" {
			continue
		}
		cmd, args, _ := strings.Cut(text, " ")
		instrs = append(instrs, dockerInstruction{Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args), Line: start})
	}
	if cur.Len() != 0 {
		t.Fatalf("Dockerfile ends in a line continuation")
	}

	var stages []dockerStage
	for _, in := range instrs {
		if in.Cmd == "FROM" {
			var words []string
			for _, w := range strings.Fields(in.Args) {
				if !strings.HasPrefix(w, "--") { // --platform=…
					words = append(words, w)
				}
			}
			st := dockerStage{Image: words[0]}
			if len(words) == 3 && strings.EqualFold(words[1], "AS") {
				st.Name = words[2]
			} else if len(words) != 1 {
				t.Fatalf("Dockerfile:%d: cannot read FROM %s", in.Line, in.Args)
			}
			stages = append(stages, st)
			continue
		}
		if len(stages) == 0 {
			if in.Cmd != "ARG" {
				t.Fatalf("Dockerfile:%d: %s before the first FROM", in.Line, in.Cmd)
			}
			continue
		}
		stages[len(stages)-1].Instructions = append(stages[len(stages)-1].Instructions, in)
	}
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stages, want a build stage and a final stage", len(stages))
	}
	return stages
}

var dockerOutputFlag = regexp.MustCompile(`(?:^|\s)-o\s+(\S+)`)

// dockerBuild is the build stage's `go build` command.
type dockerBuild struct {
	Stage   dockerStage
	Command string // as written, continuations joined
	Output  string // the -o path
}

func dockerfileBuild(t *testing.T, stages []dockerStage) dockerBuild {
	t.Helper()
	var found []dockerBuild
	for _, st := range stages {
		versionArg := false
		for _, in := range st.Instructions {
			if in.Cmd == "ARG" && (in.Args == "VERSION" || strings.HasPrefix(in.Args, "VERSION=")) {
				versionArg = true
			}
			if in.Cmd != "RUN" || !strings.Contains(in.Args, "go build") {
				continue
			}
			if !versionArg {
				t.Errorf("Dockerfile:%d: the go build runs before ARG VERSION is declared in its stage", in.Line)
			}
			m := dockerOutputFlag.FindAllStringSubmatch(in.Args, -1)
			if len(m) != 1 {
				t.Fatalf("Dockerfile:%d: want exactly one -o PATH in %q", in.Line, in.Args)
			}
			found = append(found, dockerBuild{Stage: st, Command: in.Args, Output: m[0][1]})
		}
	}
	if len(found) != 1 {
		t.Fatalf("Dockerfile has %d RUN … go build … instructions, want 1", len(found))
	}
	return found[0]
}

// normalizeBuildCommand puts the version and output path in fixed form and
// collapses white space, so two spellings of one command compare equal.
func normalizeBuildCommand(cmd string) string {
	cmd = dockerOutputFlag.ReplaceAllString(cmd, " -o OUT")
	return strings.Join(strings.Fields(cmd), " ")
}

func TestDockerfileBuildsStaticVersionedBinary(t *testing.T) {
	stages := parseDockerfile(t)
	build := dockerfileBuild(t, stages)
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "main.version=${VERSION}"} {
		if !strings.Contains(build.Command, want) {
			t.Errorf("the build command %q lacks %q", build.Command, want)
		}
	}

	// Run the command as written, only writing its output here instead of
	// /out. The shell expands ${VERSION}, as in the image build.
	bin := filepath.Join(t.TempDir(), "miner-detector")
	loc := dockerOutputFlag.FindStringSubmatchIndex(build.Command)
	command := build.Command[:loc[2]] + "'" + bin + "'" + build.Command[loc[3]:]
	cmd := exec.CommandContext(t.Context(), "sh", "-c", command)
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "VERSION="+dockerfileTestVersion)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sh -c %q: %v\n%s", command, err, out)
	}

	// Static: no dynamic loader, no shared libraries.
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatalf("the binary is not ELF: %v", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the binary is dynamically linked: it has a %v program header", p.Type)
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatal(err)
	}
	if len(libs) != 0 {
		t.Errorf("the binary needs shared libraries (DT_NEEDED): %v", libs)
	}

	// The build settings recorded in the binary.
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if info.Path != "github.com/miner-detector/miner-detector/cmd/miner-detector" {
		t.Errorf("built %q, want the miner-detector command", info.Path)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if settings["CGO_ENABLED"] != "0" || settings["-trimpath"] != "true" {
		t.Errorf("build settings CGO_ENABLED=%q -trimpath=%q, want 0 and true", settings["CGO_ENABLED"], settings["-trimpath"])
	}

	out, err := exec.CommandContext(t.Context(), bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("%s version: %v\n%s", bin, err, out)
	}
	if got, want := strings.TrimSpace(string(out)), "miner-detector "+dockerfileTestVersion; got != want {
		t.Errorf("`miner-detector version` printed %q, want %q", got, want)
	}
}

func TestDockerfileFinalStageIsDistrolessNonroot(t *testing.T) {
	stages := parseDockerfile(t)
	build := dockerfileBuild(t, stages)
	final := stages[len(stages)-1]

	// distroless static, nonroot tag (not :debug, which has a shell).
	if !regexp.MustCompile(`^gcr\.io/distroless/static(-debian\d+)?:nonroot(@sha256:[0-9a-f]{64})?$`).MatchString(final.Image) {
		t.Errorf("final stage is FROM %s, want gcr.io/distroless/static…:nonroot", final.Image)
	}

	// The build stage's Go is at least go.mod's.
	gomod, err := os.ReadFile(dockerfileGoMod)
	if err != nil {
		t.Fatal(err)
	}
	modGo := regexp.MustCompile(`(?m)^go (\d+)\.(\d+)`).FindStringSubmatch(string(gomod))
	imgGo := regexp.MustCompile(`^golang:(\d+)\.(\d+)`).FindStringSubmatch(build.Stage.Image)
	if modGo == nil || imgGo == nil {
		t.Fatalf("cannot compare go.mod's go line %v with the build image %s", modGo, build.Stage.Image)
	}
	if minor := func(m []string) int { a, _ := strconv.Atoi(m[1]); b, _ := strconv.Atoi(m[2]); return a*1000 + b }; minor(imgGo) < minor(modGo) {
		t.Errorf("build image %s is older than go.mod's go %s.%s", build.Stage.Image, modGo[1], modGo[2])
	}

	var user, entrypoint, binary string
	for _, in := range final.Instructions {
		switch in.Cmd {
		case "RUN":
			t.Errorf("Dockerfile:%d: RUN in the final stage (distroless has no shell)", in.Line)
		case "USER":
			user = in.Args
		case "ENTRYPOINT":
			entrypoint = in.Args
		case "COPY":
			words := strings.Fields(in.Args)
			from := build.Stage.Name
			if from == "" {
				from = "0"
			}
			if len(words) == 3 && words[0] == "--from="+from && words[1] == build.Output {
				binary = words[2]
			}
		}
	}
	switch user {
	case "65532:65532", "65532", "nonroot", "nonroot:nonroot":
	default:
		t.Errorf("final stage USER %q, want 65532:65532 (distroless nonroot)", user)
	}
	if binary == "" {
		t.Fatalf("final stage does not COPY --from=%s %s", build.Stage.Name, build.Output)
	}
	var argv []string
	if err := json.Unmarshal([]byte(entrypoint), &argv); err != nil || len(argv) == 0 {
		t.Fatalf("final stage ENTRYPOINT %q, want the exec form [%q] (no shell to run the shell form)", entrypoint, binary)
	}
	if argv[0] != binary {
		t.Errorf("ENTRYPOINT runs %q, want the copied binary %q", argv[0], binary)
	}
}

// makeVariable matches NAME = / ?= / := value lines of the Makefile.
var makeVariable = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)\s*(?:\?=|:=|=)\s*(.*)$`)

func TestDockerfileBuildMatchesMakefile(t *testing.T) {
	build := dockerfileBuild(t, parseDockerfile(t))
	data, err := os.ReadFile(dockerfileMakefile)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	var recipe []string
	inBuild := false
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "\t") {
			if inBuild {
				recipe = append(recipe, strings.TrimSpace(line))
			}
			continue
		}
		inBuild = strings.HasPrefix(line, "build:")
		if m := makeVariable.FindStringSubmatch(line); m != nil {
			vars[m[1]] = strings.TrimSpace(m[2])
		}
	}
	if len(recipe) != 1 {
		t.Fatalf("Makefile target build has %d recipe lines, want 1: %q", len(recipe), recipe)
	}
	if _, ok := vars["VERSION"]; !ok {
		t.Fatalf("Makefile has no VERSION variable")
	}
	vars["VERSION"] = dockerfileTestVersion

	ref := regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)
	var expand func(s string, depth int) string
	expand = func(s string, depth int) string {
		if depth > 10 {
			t.Fatalf("Makefile variables nest too deep: %q", s)
		}
		return ref.ReplaceAllStringFunc(s, func(r string) string {
			name := ref.FindStringSubmatch(r)[1]
			v, ok := vars[name]
			if !ok {
				t.Fatalf("Makefile: $(%s) is not defined", name)
			}
			return expand(v, depth+1)
		})
	}
	makeCmd := strings.ReplaceAll(expand(recipe[0], 0), "$$", "$")

	dockerCmd := strings.NewReplacer("${VERSION}", dockerfileTestVersion, "$VERSION", dockerfileTestVersion).Replace(build.Command)
	if got, want := normalizeBuildCommand(dockerCmd), normalizeBuildCommand(makeCmd); got != want {
		t.Errorf("the Dockerfile and `make build` build differently:\nDockerfile: %s\nMakefile:   %s", got, want)
	}
}
