package analyzer

import "strings"

// Board is what a GPU model's profiler can report, from dcgm-exporter's
// modelName label. Evidence strength is graded on the pipes the board has:
// a pipe the board does not report can be neither idle nor busy.
type Board struct {
	// Arch is the architecture family the model name was matched to
	// ("hopper", "ada", ...); "unknown" when nothing matched.
	Arch string `json:"arch"`
	// FP64 is false where DCGM does not report the FP64 pipe: Ada boards
	// (L4, L40, L40S, RTX Ada), whose FP64 units run at 1/64 rate and which
	// nobody runs FP64 work on. An unknown model is assumed to have it, so
	// strong evidence there still needs the FP64 pipe seen idle.
	FP64 bool `json:"fp64"`
	// Integer is true where the integer pipe (DCGM field 1016) is reported:
	// Hopper and newer (NVML GPM). Not on Ampere or Ada (A100, A30, L4,
	// L40S).
	Integer bool `json:"integer"`
	// TensorSubtypes is true where IMMA/HMMA/DFMA (fields 1013-1015) are
	// reported: GA100 and newer datacenter boards.
	TensorSubtypes bool `json:"tensor_subtypes"`
}

// boards maps model-name fragments to boards, most specific first. Names
// as NVML reports them ("NVIDIA H100 80GB HBM3", "NVIDIA L40S",
// "NVIDIA A100-SXM4-80GB").
var boards = []struct {
	fragments []string
	board     Board
}{
	{[]string{"GB200", "GB300", "B200", "B300", "B100", "BLACKWELL"}, Board{Arch: "blackwell", FP64: true, Integer: true, TensorSubtypes: true}},
	{[]string{"GH200", "H100", "H200", "H800", "H20"}, Board{Arch: "hopper", FP64: true, Integer: true, TensorSubtypes: true}},
	{[]string{"L40", "L4", "RTX 4000 ADA", "RTX 5000 ADA", "RTX 6000 ADA", "ADA GENERATION", "RTX 40"}, Board{Arch: "ada"}},
	{[]string{"A100", "A800", "A30"}, Board{Arch: "ampere-ga100", FP64: true, TensorSubtypes: true}},
	{[]string{"A10", "A16", "A40", "A2", "RTX A"}, Board{Arch: "ampere", FP64: true}},
	{[]string{"V100", "T4", "TITAN V", "QUADRO"}, Board{Arch: "volta-turing", FP64: true}},
}

// BoardOf reads a board from its model name; an unknown model has the FP64
// pipe and neither the integer pipe nor the tensor subtypes.
func BoardOf(model string) Board {
	m := strings.ToUpper(model)
	for _, b := range boards {
		for _, f := range b.fragments {
			if strings.Contains(m, f) {
				return b.board
			}
		}
	}
	return Board{Arch: "unknown", FP64: true}
}

// strongPipes are the pipes that must be covered and idle for a busy GPU
// to be strong evidence of mining on this board: training and inference
// use the tensor pipe, FP32 HPC the FP32 pipe, FP64 HPC the FP64 pipe (or
// DFMA on the tensor cores, which the tensor pipe counts).
func (b Board) strongPipes() []Signal {
	if !b.FP64 {
		return []Signal{SignalTensor, SignalFP32}
	}
	return []Signal{SignalTensor, SignalFP32, SignalFP64}
}
