// Command kfakebroker runs a Kafka-protocol broker (franz-go's kfake) in a process of
// its own, for benchmarks that must not share a process (and its CPU accounting) with
// the client they measure. It prints "ready <address>" once listening and runs until
// SIGTERM or SIGINT.
//
//	kfakebroker -topic events:8 -topic orders:8
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

type topics []string

func (t *topics) String() string     { return strings.Join(*t, ",") }
func (t *topics) Set(v string) error { *t = append(*t, v); return nil }

func main() {
	var seed topics
	flag.Var(&seed, "topic", "name:partitions of a topic to create (repeatable)")
	port := flag.Int("port", 0, "port to listen on (0: any free port)")
	flag.Parse()
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.Ports(*port)}
	for _, s := range seed {
		name, n, ok := strings.Cut(s, ":")
		parts, err := strconv.Atoi(n)
		if !ok || err != nil || parts <= 0 {
			fmt.Fprintf(os.Stderr, "kfakebroker: -topic %q: want name:partitions\n", s)
			os.Exit(2)
		}
		opts = append(opts, kfake.SeedTopics(int32(parts), name))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kfakebroker:", err)
		os.Exit(1)
	}
	fmt.Println("ready", c.ListenAddrs()[0])
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	c.Close()
}
