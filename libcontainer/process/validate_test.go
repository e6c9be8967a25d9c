package process_test

import (
	"strings"
	"testing"

	"github.com/hull-runtime/hull/libcontainer/process"
	"github.com/opencontainers/runtime-spec/specs-go"
)

func i(v int) *int { return &v }

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string // "" = valid
	}{
		{"rlimit ok", process.ValidateRlimits([]specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1, Hard: 2}, {Type: "RLIMIT_RTTIME"}}), ""},
		{"rlimit unknown", process.ValidateRlimits([]specs.POSIXRlimit{{Type: "RLIMIT_NOFILE"}, {Type: "RLIMIT_FOO"}}), `process.rlimits[1].type: unknown rlimit "RLIMIT_FOO"`},
		{"rlimit dup", process.ValidateRlimits([]specs.POSIXRlimit{{Type: "RLIMIT_CORE"}, {Type: "RLIMIT_CORE"}}), "process.rlimits[1].type: RLIMIT_CORE duplicates process.rlimits[0]"},
		{"rlimit soft>hard", process.ValidateRlimits([]specs.POSIXRlimit{{Type: "RLIMIT_AS", Soft: 3, Hard: 2}}), "process.rlimits[0]: RLIMIT_AS soft limit 3 exceeds hard limit 2"},
		{"sched nil", process.ValidateScheduler(nil), ""},
		{"sched ok", process.ValidateScheduler(&specs.Scheduler{Policy: specs.SchedRR, Priority: 99}), ""},
		{"sched deadline ok", process.ValidateScheduler(&specs.Scheduler{Policy: specs.SchedDeadline, Runtime: 1, Deadline: 2, Period: 3}), ""},
		{"sched policy", process.ValidateScheduler(&specs.Scheduler{Policy: "SCHED_X"}), `process.scheduler.policy: unknown policy "SCHED_X"`},
		{"sched flag", process.ValidateScheduler(&specs.Scheduler{Policy: specs.SchedOther, Flags: []specs.LinuxSchedulerFlag{"SCHED_FLAG_X"}}), `process.scheduler.flags[0]: unknown flag "SCHED_FLAG_X"`},
		{"sched nice", process.ValidateScheduler(&specs.Scheduler{Policy: specs.SchedOther, Nice: 20}), "process.scheduler.nice: 20 out of range"},
		{"sched prio other", process.ValidateScheduler(&specs.Scheduler{Policy: specs.SchedOther, Priority: 5}), "process.scheduler.priority: 5 can only be set for SCHED_FIFO or SCHED_RR"},
		{"sched prio fifo", process.ValidateScheduler(&specs.Scheduler{Policy: specs.SchedFIFO}), "process.scheduler.priority: 0 out of range [1, 99] for SCHED_FIFO"},
		{"sched dl fields", process.ValidateScheduler(&specs.Scheduler{Policy: specs.SchedBatch, Runtime: 5}), "runtime/deadline/period can only be set for SCHED_DEADLINE"},
		{"sched dl order", process.ValidateScheduler(&specs.Scheduler{Policy: specs.SchedDeadline, Runtime: 5, Deadline: 2}), "needs runtime (5) <= deadline (2)"},
		{"ioprio ok", process.ValidateIOPriority(&specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_IDLE, Priority: 7}), ""},
		{"ioprio class", process.ValidateIOPriority(&specs.LinuxIOPriority{Class: "IOPRIO_CLASS_X"}), `process.ioPriority.class: unknown class "IOPRIO_CLASS_X"`},
		{"ioprio prio", process.ValidateIOPriority(&specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 8}), "process.ioPriority.priority: 8 out of range [0, 7]"},
		{"pers ok", process.ValidatePersonality(&specs.LinuxPersonality{Domain: specs.PerLinux}), ""},
		{"pers domain", process.ValidatePersonality(&specs.LinuxPersonality{Domain: "LINUX64"}), `linux.personality.domain: unknown domain "LINUX64"`},
		{"pers flag", process.ValidatePersonality(&specs.LinuxPersonality{Domain: specs.PerLinux, Flags: []specs.LinuxPersonalityFlag{"ADDR_NO_RANDOMIZE"}}), `linux.personality.flags[0]: unsupported flag "ADDR_NO_RANDOMIZE"`},
		{"oom ok", process.ValidateOOMScoreAdj(i(-1000)), ""},
		{"oom range", process.ValidateOOMScoreAdj(i(1001)), "process.oomScoreAdj: 1001 out of range"},
		{"affinity ok", process.ValidateCPUAffinity(&specs.CPUAffinity{Initial: "0-3,7", Final: ""}), ""},
		{"affinity bad", process.ValidateCPUAffinity(&specs.CPUAffinity{Final: "3-1"}), `process.execCPUAffinity.final: CPU list "3-1": range "3-1" is reversed`},
		{"umask", process.SetUmask(func() *uint32 { v := uint32(0o1000); return &v }()), "process.user.umask: 01000 out of range"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.want == "" {
				if tc.err != nil {
					t.Fatalf("unexpected error: %v", tc.err)
				}
				return
			}
			if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", tc.err, tc.want)
			}
		})
	}
}

func TestParseCPUList(t *testing.T) {
	tests := []struct {
		in   string
		want []int
		err  string
	}{
		{in: "0-3,7", want: []int{0, 1, 2, 3, 7}},
		{in: " 1 , 4-5", want: []int{1, 4, 5}},
		{in: "2-2", want: []int{2}},
		{in: "", err: "empty CPU list"},
		{in: "a", err: `bad element "a"`},
		{in: "1-", err: `bad element "1-"`},
		{in: "1,,2", err: `bad element ""`},
		{in: "-1", err: `bad element "-1"`},
		{in: "5-3", err: "reversed"},
		{in: "1024", err: "exceeds the maximum 1023"},
	}
	for _, tc := range tests {
		set, err := process.ParseCPUList(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseCPUList(%q): err %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseCPUList(%q): %v", tc.in, err)
			continue
		}
		var got []int
		for c := 0; c < 1024; c++ {
			if set.IsSet(c) {
				got = append(got, c)
			}
		}
		if len(got) != len(tc.want) || set.Count() != len(tc.want) {
			t.Errorf("ParseCPUList(%q) = %v, want %v", tc.in, got, tc.want)
			continue
		}
		for k := range got {
			if got[k] != tc.want[k] {
				t.Errorf("ParseCPUList(%q) = %v, want %v", tc.in, got, tc.want)
			}
		}
	}
}

func TestIOPrioValue(t *testing.T) {
	v, err := process.IOPrioValue(&specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_RT, Priority: 3})
	if err != nil || v != 1<<13|3 {
		t.Fatalf("IOPrioValue = %#x, %v; want %#x", v, err, 1<<13|3)
	}
}
