// Package onnx runs ONNX models through ONNX Runtime. It is the only package
// of sealocr that imports onnxruntime_go (and so the only one that needs cgo).
//
// ONNX Runtime keeps one environment per process: Init loads the shared
// library once; sessions are created per model and are safe for concurrent
// Run calls, which ONNX Runtime allows.
package onnx

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	ort "github.com/yalue/onnxruntime_go"
)

// ErrNotInitialized reports a session created before Init.
var ErrNotInitialized = errors.New("onnx: runtime not initialised")

var (
	initMu   sync.Mutex
	initPath string
)

// Init loads the ONNX Runtime shared library at libPath and creates the
// process-wide environment. Calling it again with the same path is a no-op;
// with another path it is an error, because ONNX Runtime allows one
// environment per process.
func Init(libPath string) error {
	initMu.Lock()
	defer initMu.Unlock()
	if ort.IsInitialized() {
		if libPath != initPath {
			return fmt.Errorf("onnx: runtime already loaded from another path")
		}
		return nil
	}
	ort.SetSharedLibraryPath(libPath)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		return fmt.Errorf("onnx: load runtime %s: %w", libPath, err)
	}
	initPath = libPath
	// One CPU arena for every session (session.use_env_allocators below),
	// grown by what each allocation asks for rather than to the next power
	// of two: the detector's, the classifier's and the recognizer's peaks
	// share memory instead of each keeping an arena of its own. Measured
	// on a 40-megapixel page: the core's peak resident memory fell from
	// about 1.16 GiB to under 1 GiB (README, Memory).
	mi, err := ort.GetMemoryInfo()
	if err != nil {
		return err
	}
	cfg, err := ort.NewArenaCfgV2(map[string]int{"arena_extend_strategy": 1})
	if err != nil {
		return err
	}
	defer cfg.Destroy()
	if err := ort.CreateAndRegisterAllocator(mi, cfg); err != nil {
		return fmt.Errorf("onnx: shared allocator: %w", err)
	}
	return nil
}

// Version returns the loaded ONNX Runtime's version ("" before Init).
func Version() string {
	if !ort.IsInitialized() {
		return ""
	}
	return ort.GetVersion()
}

// Options tune a session.
type Options struct {
	// IntraOpThreads is the number of threads one Run may use (0: ONNX
	// Runtime's default, one per core).
	IntraOpThreads int
	// GraphOptimization is ONNX Runtime's graph optimization level:
	// "disable", "basic", "extended" or "all" ("": ONNX Runtime's default,
	// all).
	GraphOptimization string
	// NoSpin stops the intra-op threads from spinning while they wait for
	// work (session.intra_op.allow_spinning=0), which leaves the cores to
	// other runs and processes on a shared machine.
	NoSpin bool
	// NoMemPattern and NoCPUArena turn off ONNX Runtime's memory pattern
	// planning and its CPU memory arena.
	NoMemPattern, NoCPUArena bool
}

var graphLevels = map[string]ort.GraphOptimizationLevel{
	"disable":  ort.GraphOptimizationLevelDisableAll,
	"basic":    ort.GraphOptimizationLevelEnableBasic,
	"extended": ort.GraphOptimizationLevelEnableExtended,
	"all":      ort.GraphOptimizationLevelEnableAll,
}

// apply sets o on opts.
func (o Options) apply(opts *ort.SessionOptions) error {
	if o.IntraOpThreads > 0 {
		if err := opts.SetIntraOpNumThreads(o.IntraOpThreads); err != nil {
			return err
		}
	}
	if err := opts.SetInterOpNumThreads(1); err != nil {
		return err
	}
	if o.GraphOptimization != "" {
		l, ok := graphLevels[o.GraphOptimization]
		if !ok {
			return fmt.Errorf("unknown graph optimization level %q", o.GraphOptimization)
		}
		if err := opts.SetGraphOptimizationLevel(l); err != nil {
			return err
		}
	}
	// The shared arena Init registers.
	if err := opts.AddSessionConfigEntry("session.use_env_allocators", "1"); err != nil {
		return err
	}
	if o.NoSpin {
		if err := opts.AddSessionConfigEntry("session.intra_op.allow_spinning", "0"); err != nil {
			return err
		}
	}
	if o.NoMemPattern {
		if err := opts.SetMemPattern(false); err != nil {
			return err
		}
	}
	if o.NoCPUArena {
		if err := opts.SetCpuMemArena(false); err != nil {
			return err
		}
	}
	return nil
}

// Session is one loaded model with a single float32 input and output.
type Session struct {
	s       *ort.DynamicAdvancedSession
	input   string
	output  string
	inShape ort.Shape
}

// NewSession loads a model file.
func NewSession(modelPath string, o Options) (*Session, error) {
	if !ort.IsInitialized() {
		return nil, ErrNotInitialized
	}
	ins, outs, err := ort.GetInputOutputInfo(modelPath)
	if err != nil {
		return nil, fmt.Errorf("onnx: inspect %s: %w", modelPath, err)
	}
	if len(ins) != 1 || len(outs) != 1 {
		return nil, fmt.Errorf("onnx: %s: want one input and one output, have %d and %d", modelPath, len(ins), len(outs))
	}
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	defer opts.Destroy()
	if err := o.apply(opts); err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	s, err := ort.NewDynamicAdvancedSession(modelPath, []string{ins[0].Name}, []string{outs[0].Name}, opts)
	if err != nil {
		return nil, fmt.Errorf("onnx: load %s: %w", modelPath, err)
	}
	return &Session{s: s, input: ins[0].Name, output: outs[0].Name, inShape: ins[0].Dimensions}, nil
}

// InputShape is the model's declared input shape (-1 for dynamic axes).
func (s *Session) InputShape() []int64 { return append([]int64(nil), s.inShape...) }

// Run feeds input with the given shape and returns a copy of the output and
// its shape. Cancelling ctx terminates a run in progress.
func (s *Session) Run(ctx context.Context, input []float32, shape []int64) ([]float32, []int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	in, err := ort.NewTensor(ort.Shape(shape), input)
	if err != nil {
		return nil, nil, fmt.Errorf("onnx: input tensor: %w", err)
	}
	defer in.Destroy()
	ro, err := ort.NewRunOptions()
	if err != nil {
		return nil, nil, fmt.Errorf("onnx: %w", err)
	}
	defer ro.Destroy()
	stop := context.AfterFunc(ctx, func() { _ = ro.Terminate() })
	defer stop()
	outs := []ort.Value{nil}
	start := time.Now()
	err = s.s.RunWithOptions([]ort.Value{in}, outs, ro)
	if t, ok := ctx.Value(timerKey{}).(*Timer); ok {
		t.add(time.Since(start))
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		return nil, nil, fmt.Errorf("onnx: run: %w", err)
	}
	defer outs[0].Destroy()
	t, ok := outs[0].(*ort.Tensor[float32])
	if !ok {
		return nil, nil, fmt.Errorf("onnx: output is not a float32 tensor")
	}
	data := append([]float32(nil), t.GetData()...)
	return data, append([]int64(nil), t.GetShape()...), nil
}

// Close releases the session.
func (s *Session) Close() error {
	if s == nil || s.s == nil {
		return nil
	}
	err := s.s.Destroy()
	s.s = nil
	return err
}

// Timer accumulates the time spent inside ONNX Runtime by the runs made with
// a context that carries it, so callers can tell model time from pipeline
// overhead.
type Timer struct{ ns atomic.Int64 }

type timerKey struct{}

// WithTimer returns a context whose runs add their duration to t.
func WithTimer(ctx context.Context, t *Timer) context.Context {
	return context.WithValue(ctx, timerKey{}, t)
}

func (t *Timer) add(d time.Duration) { t.ns.Add(int64(d)) }

// Elapsed is the accumulated run time.
func (t *Timer) Elapsed() time.Duration { return time.Duration(t.ns.Load()) }
