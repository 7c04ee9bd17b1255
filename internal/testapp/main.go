// Command testapp is the small HTTP server the cell's specs run inside containers. It is built
// static and placed at /testapp in gardentest's busybox rootfs. It listens on $PORT (8080 when
// unset) and answers:
//
//	GET /                  "<CF_INSTANCE_INDEX> <CF_INSTANCE_GUID>"
//	GET /env               the environment as a JSON object
//	GET /exit?code=N       exits with status N (after answering)
//	GET /hang              stops answering this and every later request
//	GET /alloc?mb=N        allocates and touches N MiB, kept until exit
//	GET /log?lines=N&text=T prints T (default "log line") N times on stdout, numbered
//	GET /stderr?text=T     prints T on stderr
//	GET /ready             200 while ready (the default), 500 after /ready?state=fail
//	GET /ready?state=S     S = fail or pass flips what /ready answers
//	GET /sleep?ms=N        answers after N milliseconds (a request in flight)
//	GET /session           answers as / and sets the cookie JSESSIONID=<CF_INSTANCE_GUID>
//	POST /record?ms=N      prints "record: <body>" on stdout, then answers "recorded" (N
//	                       milliseconds later when given): what the app received is known even
//	                       after it was killed with SIGKILL, answered or not
//
// Every answer, a 404 included, carries the header X-Testapp-Instance: <index> <guid>, so a
// spec knows which instance answered whatever the path.
//
// On SIGTERM it stops accepting connections, finishes the requests in flight and exits 0, as a
// well-behaved app does within the cell's grace period. With TESTAPP_ON_SIGTERM=exit it exits at
// once instead (status 143, a shell's code for a SIGTERM death), dropping the requests in flight
// as many real apps do: what a retired instance's drain must protect. Any other value of
// TESTAPP_ON_SIGTERM is refused at start.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	abrupt := false
	switch v := os.Getenv("TESTAPP_ON_SIGTERM"); v {
	case "":
	case "exit":
		abrupt = true
	default:
		fmt.Fprintf(os.Stderr, "testapp: TESTAPP_ON_SIGTERM=%q: must be \"exit\" or unset\n", v)
		os.Exit(2)
	}
	a := &app{}
	a.ready.Store(true)
	srv := &http.Server{Addr: ":" + port, Handler: a}
	terminated := make(chan os.Signal, 1)
	signal.Notify(terminated, syscall.SIGTERM)
	drained := make(chan struct{})
	go func() {
		<-terminated
		if abrupt {
			fmt.Println("testapp: SIGTERM, exiting at once")
			os.Exit(143)
		}
		fmt.Println("testapp: SIGTERM, finishing the requests in flight")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = srv.Shutdown(ctx)
		close(drained)
	}()
	fmt.Printf("testapp listening on port %s\n", port)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(os.Stderr, "testapp: %v\n", err)
		os.Exit(1)
	}
	<-drained
	fmt.Println("testapp: exiting")
}

type app struct {
	hung  atomic.Bool
	ready atomic.Bool
	mu    sync.Mutex
	held  [][]byte // allocations kept alive for /alloc
}

func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if a.hung.Load() {
		select {} // a hung app holds the connection open and never answers
	}
	w.Header().Set("X-Testapp-Instance", os.Getenv("CF_INSTANCE_INDEX")+" "+os.Getenv("CF_INSTANCE_GUID"))
	q := r.URL.Query()
	switch r.URL.Path {
	case "/", "/session":
		if r.URL.Path == "/session" {
			http.SetCookie(w, &http.Cookie{Name: "JSESSIONID", Value: os.Getenv("CF_INSTANCE_GUID")})
		}
		fmt.Fprintf(w, "%s %s", os.Getenv("CF_INSTANCE_INDEX"), os.Getenv("CF_INSTANCE_GUID"))
	case "/record":
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ms, err := strconv.Atoi(q.Get("ms"))
		if q.Get("ms") == "" {
			ms, err = 0, nil
		}
		if err != nil || ms < 0 {
			http.Error(w, "ms must be a non-negative integer", http.StatusBadRequest)
			return
		}
		fmt.Printf("record: %s\n", body)
		time.Sleep(time.Duration(ms) * time.Millisecond)
		fmt.Fprint(w, "recorded")
	case "/env":
		env := map[string]string{}
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(env)
	case "/exit":
		code, err := strconv.Atoi(q.Get("code"))
		if err != nil {
			http.Error(w, "code must be an integer", http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "exiting with %d", code)
		w.(http.Flusher).Flush()
		go func() {
			time.Sleep(50 * time.Millisecond) // let the answer reach the client
			os.Exit(code)
		}()
	case "/sleep":
		ms, err := strconv.Atoi(q.Get("ms"))
		if err != nil || ms < 0 {
			http.Error(w, "ms must be a non-negative integer", http.StatusBadRequest)
			return
		}
		time.Sleep(time.Duration(ms) * time.Millisecond)
		fmt.Fprintf(w, "slept %d ms", ms)
	case "/hang":
		a.hung.Store(true)
		select {}
	case "/alloc":
		mb, err := strconv.Atoi(q.Get("mb"))
		if err != nil || mb < 0 {
			http.Error(w, "mb must be a non-negative integer", http.StatusBadRequest)
			return
		}
		b := make([]byte, mb<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1 // touch every page so it is resident
		}
		a.mu.Lock()
		a.held = append(a.held, b)
		a.mu.Unlock()
		fmt.Fprintf(w, "allocated %d MiB", mb)
	case "/log":
		lines, err := strconv.Atoi(q.Get("lines"))
		if q.Get("lines") == "" {
			lines, err = 1, nil
		}
		if err != nil || lines < 0 {
			http.Error(w, "lines must be a non-negative integer", http.StatusBadRequest)
			return
		}
		text := q.Get("text")
		if text == "" {
			text = "log line"
		}
		for i := 1; i <= lines; i++ {
			fmt.Fprintf(os.Stdout, "%s %d\n", text, i)
		}
		fmt.Fprintf(w, "printed %d lines", lines)
	case "/stderr":
		fmt.Fprintln(os.Stderr, q.Get("text"))
		fmt.Fprint(w, "printed on stderr")
	case "/ready":
		switch q.Get("state") {
		case "fail":
			a.ready.Store(false)
		case "pass":
			a.ready.Store(true)
		case "":
		default:
			http.Error(w, "state must be fail or pass", http.StatusBadRequest)
			return
		}
		if !a.ready.Load() {
			http.Error(w, "not ready", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "ready")
	default:
		http.NotFound(w, r)
	}
}
