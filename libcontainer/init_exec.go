package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/sigreset"
	"github.com/hull-runtime/hull/libcontainer/capabilities"
	"github.com/hull-runtime/hull/libcontainer/hooks"
	"github.com/hull-runtime/hull/libcontainer/process"
	"github.com/hull-runtime/hull/libcontainer/seccomp"
	"github.com/hull-runtime/hull/libcontainer/wire"
)

// setAttributes applies the process attributes that need privileges hull
// is about to drop: rlimits (raising), oom_score_adj (lowering), the
// scheduler, I/O priority, memory policy, CPU affinity and the session
// keyring; and the signal state of a fresh process.
func (p *initProcess) setAttributes() error {
	proc := p.spec.Process
	// The signals hull was started with ignored or blocked would reach the
	// program through execve (internal/sigreset). This thread execs.
	if err := sigreset.ToDefault(); err != nil {
		return err
	}
	if err := process.SetRlimits(proc.Rlimits); err != nil {
		return err
	}
	if err := process.SetScheduler(proc.Scheduler); err != nil {
		return err
	}
	if err := process.SetIOPriority(proc.IOPriority); err != nil {
		return err
	}
	if l := p.spec.Linux; l != nil {
		// On the main thread, the one that execs: the policy is per thread.
		if err := process.SetMemoryPolicy(l.MemoryPolicy); err != nil {
			return err
		}
	}
	if a := proc.ExecCPUAffinity; a != nil && a.Final != "" {
		if err := process.SetCPUAffinity(a.Final); err != nil {
			return err
		}
	}
	if !p.cfg.NoNewKeyring {
		// A keyring of its own, so the container cannot read the host's
		// session keys; EDQUOT/ENOSYS mean the kernel offers none.
		name := sessionKeyring(p.cfg.ID, false)
		if _, err := unix.KeyctlJoinSessionKeyring(name); err != nil && !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EDQUOT) {
			return fmt.Errorf("join session keyring %s: %w", name, err)
		}
	}
	var err error
	p.caps, err = capabilities.New(proc.Capabilities)
	if err != nil {
		return err
	}
	p.warnings = append(p.warnings, p.caps.Warnings()...)
	if p.cfg.Seccomp != nil {
		p.filter = &seccomp.Filter{}
		if err := p.filter.UnmarshalBinary(p.cfg.Seccomp); err != nil {
			return fmt.Errorf("linux.seccomp: %w", err)
		}
	}
	return nil
}

// loadSeccompPrivileged loads the filter while hull still has
// CAP_SYS_ADMIN, which seccomp needs when no_new_privs is not set.
func (p *initProcess) loadSeccompPrivileged() error {
	if p.filter == nil || p.spec.Process.NoNewPrivileges {
		return nil
	}
	return p.installFilter()
}

// loadSeccompNotify loads, with no_new_privs, a filter that has a
// listener while the sync socket is still open, so that the listener can
// reach the parent (and through it the agent) before the container counts
// as created. The cost: hull's last steps (startContainer hooks included)
// run under the filter.
func (p *initProcess) loadSeccompNotify() error {
	if p.filter == nil || !p.filter.Notify() {
		return nil
	}
	return p.installFilter()
}

// loadSeccomp loads the filter as late as possible, so hull's own last
// steps are not subject to it; possible only with no_new_privs.
func (p *initProcess) loadSeccomp() error {
	if p.filter == nil || !p.spec.Process.NoNewPrivileges {
		return nil
	}
	return p.installFilter()
}

// installFilter loads the filter and sends its listener, if any, to the
// parent. If the profile notifies on sendmsg itself, the send blocks until
// an agent answers, which cannot happen: such a profile cannot work with
// any runtime that passes the fd over a socket.
func (p *initProcess) installFilter() error {
	fd, err := p.filter.Load()
	p.filter.Release()
	p.filter = nil
	if err != nil {
		return err
	}
	if fd < 0 {
		return nil
	}
	defer unix.Close(fd)
	if err := wire.WriteFds(p.sync, wire.MsgSeccompFd, nil, fd); err != nil {
		return fmt.Errorf("send seccomp listener to hull: %w", err)
	}
	return nil
}

// dropPrivileges becomes process.user with process.capabilities, sets
// no_new_privs, the umask and the working directory.
func (p *initProcess) dropPrivileges() error {
	proc := p.spec.Process
	if proc.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("set no_new_privs: %w", err)
		}
	}
	umask := proc.User.Umask
	if umask == nil {
		def := uint32(0o022)
		umask = &def
	}
	if err := process.SetUmask(umask); err != nil {
		return err
	}
	if err := process.ReopenDevNull(); err != nil {
		return err
	}
	if err := process.ChownStdio(int(proc.User.UID)); err != nil {
		return err
	}
	if err := capabilities.ApplyWithUser(p.caps, func() error { return process.SetUser(proc.User) }); err != nil {
		return err
	}
	// musl's set*id signals every thread with its own signal, 34, and
	// leaves that signal ignored: reset again what setAttributes reset.
	if err := sigreset.ToDefault(); err != nil {
		return err
	}
	if !p.cwdAsUser {
		// Entered as root by checkCwd, as runc does: the process keeps a
		// working directory its user may not be able to enter.
		return nil
	}
	if err := unix.Chdir(proc.Cwd); err != nil {
		return fmt.Errorf("process.cwd %q: %w", proc.Cwd, err)
	}
	return verifyCwd(proc.Cwd)
}

// checkCwd changes into process.cwd and checks the result lies inside the
// container's root: a cwd reached through a leaked host fd (runc's "leaky
// vessels", CVE-2024-21626) shows as "(unreachable)". It runs before any
// seccomp filter is loaded, since a profile may deny getcwd. As in runc, it
// runs with the init's privileges; a directory that only the container's
// user may enter (root squashed on a network file system, a user
// namespace) is entered by dropPrivileges, once the process is that user.
func (p *initProcess) checkCwd() error {
	cwd := p.spec.Process.Cwd
	err := unix.Chdir(cwd)
	if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
		p.cwdAsUser = true
		return nil
	}
	if err != nil {
		return fmt.Errorf("process.cwd %q: %w", cwd, err)
	}
	return verifyCwd(cwd)
}

func verifyCwd(cwd string) error {
	wd, err := unix.Getwd()
	if err != nil || !strings.HasPrefix(wd, "/") {
		return fmt.Errorf("process.cwd %q: resolves outside the container (%q, %v)", cwd, wd, err)
	}
	return nil
}

// setHome gives the process a HOME when its env has none, from the image's
// passwd entry of process.user.uid, as runc does (engines rely on it: Docker
// and containerd send no HOME). It runs inside the container's root, as
// root, before a seccomp filter could deny the read.
func (p *initProcess) setHome() error {
	proc := p.spec.Process
	proc.Env = process.WithHome(proc.Env, "/etc/passwd", proc.User.UID)
	return nil
}

func (p *initProcess) findProgram() error {
	path, err := process.LookPath(p.spec.Process.Args[0], p.spec.Process.Env)
	if err != nil {
		return err
	}
	p.program = path
	return nil
}

// reportCreated tells the parent the container is created; from here on
// errors go to the container's stderr.
func (p *initProcess) reportCreated() error {
	// Warnings travel to the parent, which logs them: the container's
	// stderr belongs to the container.
	if err := wire.Write(p.sync, wire.MsgReady, []byte(strings.Join(p.warnings, "\n"))); err != nil {
		return err
	}
	p.ready = true
	p.sync.Close()
	return nil
}

// waitForStart blocks until `hull start` writes into the exec fifo. The fd
// was opened read-write by the parent, so the read blocks (a writer exists)
// instead of seeing end-of-file, and no path lookup is needed.
func (p *initProcess) waitForStart() error {
	fifo := os.NewFile(uintptr(p.cfg.FifoFD), "exec.fifo")
	buf := make([]byte, 1)
	for {
		_, err := fifo.Read(buf)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

func (p *initProcess) startContainerHooks() error {
	if p.spec.Hooks == nil {
		return nil
	}
	return hooks.Run("startContainer", p.spec.Hooks.StartContainer, p.hookState(specs.StateCreated))
}

func (p *initProcess) exec() error {
	if p.spec.Linux != nil {
		if err := process.SetPersonality(p.spec.Linux.Personality); err != nil {
			return err
		}
	}
	env := p.spec.Process.Env
	if env == nil {
		env = []string{}
	}
	if err := unix.Exec(p.program, p.spec.Process.Args, env); err != nil {
		return fmt.Errorf("exec %s: %w", p.program, err)
	}
	return nil
}
