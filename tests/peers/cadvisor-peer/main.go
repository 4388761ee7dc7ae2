// cadvisor-peer: cAdvisor's real library (the version pinned in
// tests/peers/versions) wired the way kubelet wires its embedded cAdvisor for
// /metrics/cadvisor, without a kubelet:
//
//   - the manager with kubelet's housekeeping, its raw-cgroup roots and its
//     included metric sets (pkg/kubelet/cadvisor/cadvisor_linux.go), and the
//     containerd, CRI-O and systemd container factories kubelet registers;
//   - metrics.NewPrometheusMachineCollector and NewPrometheusCollector with
//     kubelet's request options and its metric set (pkg/kubelet/server/server.go);
//   - kubelet's label function (containerPrometheusLabelsFunc, unexported in
//     k8s.io/kubernetes, so its rules are restated below): name = first alias,
//     image = spec image, pod/namespace/container from the io.kubernetes.*
//     labels, and for a pod cgroup (GetPodByCgroupfs) the pod's name and
//     namespace from the pod list given with -pods.
//
// Usage:
//
//	cadvisor-peer -listen 127.0.0.1:PORT -roots /kubepods,/kubepods.slice -pods pods.json [cAdvisor flags]
//	cadvisor-peer fake-containerd SOCKET containers.json
//
// pods.json: [{"uid": ..., "name": ..., "namespace": ...}, ...].
// The second form serves the part of containerd's gRPC API cAdvisor's
// containerd client uses (containers Get, tasks Get, version) for the
// containers in containers.json: {"<id>": {"labels": {...}, "image": ..., "pid": N}}.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	containersapi "github.com/containerd/containerd/api/services/containers/v1"
	tasksapi "github.com/containerd/containerd/api/services/tasks/v1"
	versionapi "github.com/containerd/containerd/api/services/version/v1"
	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/google/cadvisor/cache/memory"
	cadvisormetrics "github.com/google/cadvisor/container"
	_ "github.com/google/cadvisor/container/containerd/install"
	_ "github.com/google/cadvisor/container/crio/install"
	_ "github.com/google/cadvisor/container/systemd/install"
	_ "github.com/google/cadvisor/fs/overlay/install"
	_ "github.com/google/cadvisor/fs/tmpfs/install"
	_ "github.com/google/cadvisor/fs/vfs/install"
	cadvisorapi "github.com/google/cadvisor/info/v1"
	cadvisorv2 "github.com/google/cadvisor/info/v2"
	"github.com/google/cadvisor/manager"
	"github.com/google/cadvisor/metrics"
	"github.com/google/cadvisor/utils/sysfs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/emptypb"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
)

type pod struct {
	UID       string `json:"uid"`
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
}

// podUIDOfCgroup restates kubelet's IsPodCgroup: the cgroupfs name is turned
// into kubelet's driver-neutral CgroupName (systemd: each "a-b-c.slice"
// component is its last dash-separated part, "_" back to "-"), and a pod
// cgroup is "pod<uid>" directly under a QoS node (/kubepods for Guaranteed,
// /kubepods/burstable, /kubepods/besteffort).
func podUIDOfCgroup(name string) (string, bool) {
	var parts []string
	for _, c := range strings.Split(strings.Trim(name, "/"), "/") {
		if strings.HasSuffix(c, ".slice") {
			c = strings.TrimSuffix(c, ".slice")
			if i := strings.LastIndex(c, "-"); i >= 0 {
				c = c[i+1:]
			}
			c = strings.ReplaceAll(c, "_", "-")
		}
		parts = append(parts, c)
	}
	if len(parts) < 2 || parts[0] != "kubepods" {
		return "", false
	}
	base := ""
	switch {
	case len(parts) == 2:
		base = parts[1]
	case len(parts) == 3 && (parts[1] == "burstable" || parts[1] == "besteffort"):
		base = parts[2]
	}
	if !strings.HasPrefix(base, "pod") {
		return "", false
	}
	return strings.TrimPrefix(base, "pod"), true
}

func labelsFunc(pods map[string]pod) metrics.ContainerLabelsFunc {
	return func(c *cadvisorapi.ContainerInfo) map[string]string {
		var name, podName, namespace, containerName string
		if len(c.Aliases) > 0 {
			name = c.Aliases[0]
		}
		podName = c.Spec.Labels["io.kubernetes.pod.name"]
		namespace = c.Spec.Labels["io.kubernetes.pod.namespace"]
		containerName = c.Spec.Labels["io.kubernetes.container.name"]
		if podName == "" && namespace == "" {
			if uid, ok := podUIDOfCgroup(c.Name); ok {
				if p, ok := pods[uid]; ok {
					podName, namespace = p.Name, p.Namespace
				}
			}
		}
		return map[string]string{
			metrics.LabelID:    c.Name,
			metrics.LabelName:  name,
			metrics.LabelImage: c.Spec.Image,
			"pod":              podName,
			"namespace":        namespace,
			"container":        containerName,
		}
	}
}

// hostAdapter is kubelet's prometheusHostAdapter over the manager itself
// (kubelet's GetCachedMachineInfo is the machine info read at start).
type hostAdapter struct {
	m       manager.Manager
	machine *cadvisorapi.MachineInfo
}

func (a hostAdapter) GetRequestedContainersInfo(name string, o cadvisorv2.RequestOptions) (map[string]*cadvisorapi.ContainerInfo, error) {
	return a.m.GetRequestedContainersInfo(name, o)
}
func (a hostAdapter) GetVersionInfo() (*cadvisorapi.VersionInfo, error) { return a.m.GetVersionInfo() }
func (a hostAdapter) GetMachineInfo() (*cadvisorapi.MachineInfo, error) { return a.machine, nil }

func serve() error {
	listen := flag.String("listen", "127.0.0.1:4194", "address of /metrics/cadvisor")
	roots := flag.String("roots", "/kubepods", "comma-separated raw cgroup roots (kubelet: the node allocatable root)")
	podsFile := flag.String("pods", "", "JSON list of pods (uid, name, namespace) for pod cgroups")
	klog.InitFlags(nil)
	// kubelet's overrides of cAdvisor's flag defaults
	for k, v := range map[string]string{"housekeeping_interval": "10s",
		"event_storage_event_limit": "default=0", "event_storage_age_limit": "default=0"} {
		if err := flag.Set(k, v); err != nil {
			return fmt.Errorf("flag %s: %v", k, err)
		}
	}
	flag.Parse()
	pods := map[string]pod{}
	if *podsFile != "" {
		b, err := os.ReadFile(*podsFile)
		if err != nil {
			return err
		}
		var list []pod
		if err := json.Unmarshal(b, &list); err != nil {
			return fmt.Errorf("%s: %v", *podsFile, err)
		}
		for _, p := range list {
			pods[p.UID] = p
		}
	}
	// pkg/kubelet/cadvisor/cadvisor_linux.go New(): localStorageCapacityIsolation on
	managerMetrics := cadvisormetrics.MetricSet{
		cadvisormetrics.CpuUsageMetrics:     struct{}{},
		cadvisormetrics.MemoryUsageMetrics:  struct{}{},
		cadvisormetrics.DiskIOMetrics:       struct{}{},
		cadvisormetrics.NetworkUsageMetrics: struct{}{},
		cadvisormetrics.AppMetrics:          struct{}{},
		cadvisormetrics.ProcessMetrics:      struct{}{},
		cadvisormetrics.OOMMetrics:          struct{}{},
		cadvisormetrics.DiskUsageMetrics:    struct{}{},
	}
	interval := 15 * time.Second
	dynamic := true
	m, err := manager.New(memory.New(2*time.Minute, nil), sysfs.NewRealSysFs(),
		manager.HousekeepingConfig{Interval: &interval, AllowDynamic: &dynamic},
		managerMetrics, http.DefaultClient, strings.Split(*roots, ","), nil, "", 0)
	if err != nil {
		return err
	}
	if err := m.Start(); err != nil {
		return err
	}
	machine, err := m.GetMachineInfo()
	if err != nil {
		return err
	}
	// pkg/kubelet/server/server.go: the /metrics/cadvisor registry
	serverMetrics := cadvisormetrics.MetricSet{
		cadvisormetrics.CpuUsageMetrics:     struct{}{},
		cadvisormetrics.MemoryUsageMetrics:  struct{}{},
		cadvisormetrics.CpuLoadMetrics:      struct{}{},
		cadvisormetrics.DiskIOMetrics:       struct{}{},
		cadvisormetrics.DiskUsageMetrics:    struct{}{},
		cadvisormetrics.NetworkUsageMetrics: struct{}{},
		cadvisormetrics.AppMetrics:          struct{}{},
		cadvisormetrics.ProcessMetrics:      struct{}{},
		cadvisormetrics.OOMMetrics:          struct{}{},
	}
	host := hostAdapter{m: m, machine: machine}
	r := prometheus.NewRegistry()
	r.MustRegister(metrics.NewPrometheusMachineCollector(host, serverMetrics))
	r.MustRegister(metrics.NewPrometheusCollector(host, labelsFunc(pods), serverMetrics, clock.RealClock{},
		cadvisorv2.RequestOptions{IdType: cadvisorv2.TypeName, Count: 1, Recursive: true}))
	mux := http.NewServeMux()
	mux.Handle("/metrics/cadvisor", promhttp.HandlerFor(r, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	// /containers: the manager's view (which factory took each cgroup), for debugging a difference
	mux.HandleFunc("/containers", func(w http.ResponseWriter, _ *http.Request) {
		infos, err := m.GetRequestedContainersInfo("/", cadvisorv2.RequestOptions{IdType: cadvisorv2.TypeName, Count: 1, Recursive: true})
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		for name, ci := range infos {
			fmt.Fprintf(w, "%s\t%s\t%v\n", name, ci.Namespace, ci.Aliases)
		}
	})
	return http.ListenAndServe(*listen, mux)
}

type fakeCtr struct {
	Labels map[string]string `json:"labels"`
	Image  string            `json:"image"`
	Pid    uint32            `json:"pid"`
}

type fakeContainerd struct {
	containersapi.UnimplementedContainersServer
	ctrs map[string]fakeCtr
}

type fakeVersion struct {
	versionapi.UnimplementedVersionServer
}

func (f *fakeContainerd) Get(_ context.Context, r *containersapi.GetContainerRequest) (*containersapi.GetContainerResponse, error) {
	c, ok := f.ctrs[r.ID]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "container %q: not found", r.ID)
	}
	return &containersapi.GetContainerResponse{Container: &containersapi.Container{ID: r.ID, Labels: c.Labels,
		Image: c.Image, Spec: &anypb.Any{TypeUrl: "types.containerd.io/opencontainers/runtime-spec/1/Spec", Value: []byte("{}")}}}, nil
}

type fakeTasks struct {
	tasksapi.UnimplementedTasksServer
	f *fakeContainerd
}

func (t fakeTasks) Get(_ context.Context, r *tasksapi.GetRequest) (*tasksapi.GetResponse, error) {
	c, ok := t.f.ctrs[r.ContainerID]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "task %q: not found", r.ContainerID)
	}
	return &tasksapi.GetResponse{Process: &tasktypes.Process{ID: r.ContainerID, Pid: c.Pid, Status: tasktypes.Status_RUNNING}}, nil
}

func (fakeVersion) Version(context.Context, *emptypb.Empty) (*versionapi.VersionResponse, error) {
	return &versionapi.VersionResponse{Version: "v1.7.24-fake", Revision: "fake"}, nil
}

func fakeContainerdMain(sock, file string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	f := &fakeContainerd{}
	if err := json.Unmarshal(b, &f.ctrs); err != nil {
		return fmt.Errorf("%s: %v", file, err)
	}
	_ = os.Remove(sock)
	l, err := net.Listen("unix", sock)
	if err != nil {
		return err
	}
	s := grpc.NewServer()
	containersapi.RegisterContainersServer(s, f)
	tasksapi.RegisterTasksServer(s, fakeTasks{f: f})
	versionapi.RegisterVersionServer(s, fakeVersion{})
	return s.Serve(l)
}

func main() {
	var err error
	if len(os.Args) == 4 && os.Args[1] == "fake-containerd" {
		err = fakeContainerdMain(os.Args[2], os.Args[3])
	} else {
		err = serve()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cadvisor-peer:", err)
		os.Exit(1)
	}
}
