// Command floor is the lower bound the dispatch benchmark compares mljob
// with: one golang.org/x/crypto/ssh connection per host, one session per
// job running the job's command line as it is, a fixed number of
// concurrent sessions per host, and nothing else — no queue, no run dir,
// no detached start, no record. What mljob spends above this is the price
// of its guarantees and of its own overhead.
//
// Usage:
//
//	floor -hosts hosts.json -user U -identity KEY -known-hosts FILE -slots 2 < commands.txt
//
// hosts.json is a JSON array of "host:port" strings; each line of standard
// input is one remote command. Each job's stdout goes to standard output
// whole (jobs never interleave); the exit code is 1 when any job failed.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
	"golang.org/x/sync/errgroup"
)

// dialTimeout bounds one connection's dial and handshake.
const dialTimeout = 10 * time.Second

func main() {
	os.Exit(run())
}

func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var (
		hostsFile  = flag.String("hosts", "", "JSON array of host:port addresses")
		user       = flag.String("user", "", "remote user")
		identity   = flag.String("identity", "", "private key file")
		knownHosts = flag.String("known-hosts", "", "known_hosts file")
		slots      = flag.Int("slots", 2, "concurrent sessions per host")
	)
	flag.Parse()
	if *hostsFile == "" || *user == "" || *identity == "" || *knownHosts == "" || *slots < 1 {
		fmt.Fprintln(os.Stderr, "floor: -hosts, -user, -identity and -known-hosts are required; -slots must be at least 1")
		return 2
	}
	if err := floor(ctx, *hostsFile, *user, *identity, *knownHosts, *slots, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		return 1
	}
	return 0
}

// floor runs every command read from in over the hosts and copies each
// job's output to out.
func floor(ctx context.Context, hostsFile, user, identity, knownHosts string, slots int, in io.Reader, out io.Writer) error {
	addrs, err := readHosts(hostsFile)
	if err != nil {
		return err
	}
	config, err := clientConfig(user, identity, knownHosts)
	if err != nil {
		return err
	}
	var cmds []string
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		if line := sc.Text(); line != "" {
			cmds = append(cmds, line)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read commands: %w", err)
	}

	clients := make([]*ssh.Client, len(addrs))
	dial, dctx := errgroup.WithContext(ctx)
	for i, addr := range addrs {
		dial.Go(func() error {
			c, err := dialHost(dctx, addr, config)
			clients[i] = c
			return err
		})
	}
	err = dial.Wait()
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.Close()
			}
		}
	}()
	if err != nil {
		return err
	}

	jobs := make(chan string)
	var outMu sync.Mutex // guards out: one job's output at a time
	var failedMu sync.Mutex
	var failed []error // guarded by failedMu
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(jobs)
		for _, c := range cmds {
			select {
			case jobs <- c:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	for i, c := range clients {
		for range slots {
			g.Go(func() error {
				for cmd := range jobs {
					b, err := runSession(c, cmd)
					if err != nil {
						failedMu.Lock()
						failed = append(failed, fmt.Errorf("%s: %s: %w", addrs[i], cmd, err))
						failedMu.Unlock()
					}
					outMu.Lock()
					_, werr := out.Write(b)
					outMu.Unlock()
					if werr != nil {
						return fmt.Errorf("write output: %w", werr)
					}
				}
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return errors.Join(failed...)
}

// runSession runs cmd in a new session on c and returns its stdout.
func runSession(c *ssh.Client, cmd string) ([]byte, error) {
	s, err := c.NewSession()
	if err != nil {
		return nil, fmt.Errorf("new session: %w", err)
	}
	defer s.Close()
	return s.Output(cmd)
}

// readHosts reads the JSON array of addresses.
func readHosts(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read hosts: %w", err)
	}
	var addrs []string
	if err := json.Unmarshal(b, &addrs); err != nil {
		return nil, fmt.Errorf("read hosts %s: %w", path, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("read hosts %s: no hosts", path)
	}
	return addrs, nil
}

// clientConfig checks host keys against knownHosts (never ignored, as
// mljob does) and logs in with the identity file.
func clientConfig(user, identity, knownHosts string) (*ssh.ClientConfig, error) {
	key, err := os.ReadFile(identity)
	if err != nil {
		return nil, fmt.Errorf("read identity: %w", err)
	}
	signer, err := ssh.ParsePrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("parse identity %s: %w", identity, err)
	}
	hostKeys, err := knownhosts.New(knownHosts)
	if err != nil {
		return nil, fmt.Errorf("known hosts: %w", err)
	}
	return &ssh.ClientConfig{
		User:            user,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: hostKeys,
		Timeout:         dialTimeout,
	}, nil
}

// dialHost opens one connection to addr, bounded by ctx and dialTimeout.
func dialHost(ctx context.Context, addr string, config *ssh.ClientConfig) (*ssh.Client, error) {
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	if deadline, ok := dctx.Deadline(); ok {
		_ = nc.SetDeadline(deadline)
	}
	cc, chans, reqs, err := ssh.NewClientConn(nc, addr, config)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("handshake %s: %w", addr, err)
	}
	_ = nc.SetDeadline(time.Time{})
	return ssh.NewClient(cc, chans, reqs), nil
}
