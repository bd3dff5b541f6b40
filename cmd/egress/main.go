// Command egress is the command line of the egress project:
//
//	egress bench [URL]     load generator (no URL: benchmark the embedded server)
//	egress get URL         curl-like request with a timing breakdown
//	egress serve           the embedded target server
//	egress merge FILE...   combine HdrHistogram logs of several runs
//
// Exit status: 0 on success, 1 when the run or request failed or could
// not be made (a report, when there is one, is still printed), 2 for bad
// usage, 99 when bench or merge measured a run that failed a threshold
// (--fail-if). get exits with curl's codes for the failures curl names
// (see egress get --help).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
	// exitThreshold is bench's and merge's status for a run that was
	// made and measured but failed a --fail-if threshold: k6's code, so
	// that a pipeline tells "too slow" from "could not run".
	exitThreshold = 99
	programName   = "egress"
)

// usageError is bad input: a flag, an argument or a combination of them.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// exitError ends a command with an exit status of its own, such as get's
// curl-like codes. quiet leaves the message out (get -s).
type exitError struct {
	code  int
	quiet bool
	err   error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// env is what commands write to and ask about the terminal.
type env struct {
	stdout, stderr io.Writer
	// progress reports whether a live progress line may be drawn on
	// stderr: only when it is a terminal.
	progress bool
}

// run executes the command line args and returns the exit status. Errors
// are printed as one line on stderr, never with a stack trace.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (code int) {
	defer func() {
		if v := recover(); v != nil {
			fmt.Fprintf(stderr, "%s: internal error: %v\n", programName, v)
			code = exitFailed
		}
	}()
	e := &env{stdout: stdout, stderr: stderr}
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		e.progress = true
	}
	root := newRoot(e)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var xe *exitError
	quiet := errors.As(err, &xe) && xe.quiet
	if !quiet {
		// Errors from the library's packages each start with "egress: ";
		// once at the start of the line is enough.
		msg := strings.ReplaceAll(err.Error(), programName+": ", "")
		fmt.Fprintf(stderr, "%s: %s\n", programName, oneLine(msg))
	}
	var ue usageError
	switch {
	case errors.As(err, &ue):
		return exitUsage
	case xe != nil:
		return xe.code
	}
	return exitFailed
}

// oneLine keeps an error message to one line.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	return s
}

func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   programName,
		Short: "Scalable HTTP/S client sockets: load generator, curl-like get and test server",
		Long: `egress drives many HTTP/1.1 connections from a few event loops.

  egress bench                     benchmark the embedded server (start here)
  egress bench -c 256 -d 30s URL   load-test a URL
  egress get -v URL                one request, with heads and a timing breakdown
  egress serve                     run the embedded test server
  egress merge a.hdr b.hdr         combine latency histograms from several runs`,
		Version:       version(),
		SilenceUsage:  true,
		SilenceErrors: true,
		// With Args set, an unknown command reaches RunE instead of
		// cobra's own message, so that it is reported as bad usage.
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown command %q (try %s --help)", args[0], programName)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%s: %w", cmd.Name(), err)}
	})
	root.AddCommand(newBench(e), newGet(e), newServe(e), newMerge(e))
	return root
}

// argsRange checks the number of positional arguments, reporting a
// wrong one as a usage error.
func argsRange(lo, hi int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < lo || len(args) > hi {
			if hi == lo {
				return usagef("%s: needs %s", cmd.Name(), what)
			}
			return usagef("%s: takes %s", cmd.Name(), what)
		}
		return nil
	}
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}
