// Command delayrelay forwards TCP connections from a loopback port to a
// target, holding every byte for a fixed one-way delay in each direction:
// a stand-in for tc netem on kernels without the sch_netem module. It
// buffers what is in flight, so, like a long link, only the endpoints'
// windows bound throughput.
//
//	delayrelay -listen 127.0.0.1:2223 -target 10.231.0.2:2222 -rtt 80ms
package main

import (
	"flag"
	"io"
	"log"
	"net"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:2223", "loopback address to accept on")
	target := flag.String("target", "", "address to forward to")
	rtt := flag.Duration("rtt", 80*time.Millisecond, "round-trip delay to add (half each way)")
	flag.Parse()
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	for {
		c, err := l.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go func() {
			t, err := net.Dial("tcp", *target)
			if err != nil {
				log.Print(err)
				c.Close()
				return
			}
			go pipe(t, c, *rtt/2)
			pipe(c, t, *rtt/2)
		}()
	}
}

type chunk struct {
	b   []byte
	due time.Time
}

// pipe copies src to dst, each chunk delayed by d.
func pipe(dst, src net.Conn, d time.Duration) {
	q := make(chan chunk, 1<<14)
	go func() {
		defer close(q)
		for {
			b := make([]byte, 64<<10)
			n, err := src.Read(b)
			if n > 0 {
				q <- chunk{b[:n], time.Now().Add(d)}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range q {
		time.Sleep(time.Until(c.due))
		if _, err := dst.Write(c.b); err != nil {
			break
		}
	}
	if tc, ok := dst.(*net.TCPConn); ok {
		tc.CloseWrite()
	} else {
		dst.Close()
	}
	io.Copy(io.Discard, src)
}
