import Foundation
import XCTest
import KilnCore
import KilnCrypto
import KilnTestSupport
@testable import KilnNightly

/// A throwaway Slurm cluster on loopback: munged, slurmctld and three slurmd (n1, n2, n3) on one
/// host, every file in `dir` (as in docs/scale-out.md). Every daemon is stopped by its pid.
final class LoopbackSlurm {
    let dir: String
    var conf: String { dir + "/slurm.conf" }
    private var daemonPIDs: [pid_t] = []
    private var mungePID: pid_t?

    static let tools = ["munged", "munge", "slurmctld", "slurmd", "sbatch", "scontrol", "scancel", "runuser"]
    static var missingTools: [String] { tools.filter { Subprocess.which($0) == nil && !FileManager.default.isExecutableFile(atPath: "/usr/sbin/" + $0) } }

    init(dir: String) { self.dir = dir }

    static func quote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    static func freePort() throws -> Int { try TestSupport.freeLoopbackPort() }

    var environment: [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["SLURM_CONF"] = conf
        env["PATH"] = (env["PATH"] ?? "/usr/bin:/bin") + ":/usr/sbin:/sbin"
        return env
    }

    func start() throws {
        let fm = FileManager.default
        for d in ["munge", "munge-priv", "state", "spool/n1", "spool/n2", "spool/n3", "log"] {
            try fm.createDirectory(atPath: "\(dir)/\(d)", withIntermediateDirectories: true)
        }
        chmod(dir, 0o755)
        try fm.copyItem(atPath: "/etc/munge/munge.key", toPath: dir + "/munge-priv/munge.key")
        try run("/usr/bin/chown", ["-R", "munge:munge", dir + "/munge", dir + "/munge-priv"])
        chmod(dir + "/munge", 0o755); chmod(dir + "/munge-priv", 0o700); chmod(dir + "/munge-priv/munge.key", 0o600)
        let sock = dir + "/munge/munge.socket.2"
        // munged daemonizes: its output goes to /dev/null (a pipe would stay open), its pid comes from its pid file
        let q = LoopbackSlurm.quote
        try run("/bin/sh", ["-c", "exec /usr/sbin/runuser -u munge -- /usr/sbin/munged --socket=\(q(sock)) --key-file=\(q(dir + "/munge-priv/munge.key"))"
                            + " --log-file=\(q(dir + "/munge-priv/munged.log")) --pid-file=\(q(dir + "/munge/munged.pid"))"
                            + " --seed-file=\(q(dir + "/munge-priv/munged.seed")) </dev/null >/dev/null 2>&1"])
        mungePID = try waitForPID(dir + "/munge/munged.pid")
        let host = try run("/bin/hostname", ["-s"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let ports = try (0..<4).map { _ in try Self.freePort() }
        var text = """
        ClusterName=kiln
        SlurmctldHost=\(host)(127.0.0.1)
        SlurmUser=root
        SlurmdUser=root
        SlurmctldPort=\(ports[0])
        AuthType=auth/munge
        CredType=cred/munge
        AuthInfo=socket=\(sock)
        StateSaveLocation=\(dir)/state
        SlurmdSpoolDir=\(dir)/spool/%n
        SlurmctldPidFile=\(dir)/slurmctld.pid
        SlurmdPidFile=\(dir)/slurmd-%n.pid
        SlurmctldLogFile=\(dir)/log/slurmctld.log
        SlurmdLogFile=\(dir)/log/slurmd-%n.log
        ProctrackType=proctrack/linuxproc
        TaskPlugin=task/none
        SelectType=select/cons_tres
        SelectTypeParameters=CR_Core
        SchedulerType=sched/backfill
        JobAcctGatherType=jobacct_gather/none
        AccountingStorageType=accounting_storage/none
        JobCompType=jobcomp/filetxt
        JobCompLoc=\(dir)/log/jobcomp.txt
        MpiDefault=none
        ReturnToService=2
        MinJobAge=300
        SchedulerParameters=batch_sched_delay=0,sched_min_interval=0,default_queue_depth=1000

        """
        for i in 1...3 { text += "NodeName=n\(i) NodeHostname=\(host) NodeAddr=127.0.0.1 Port=\(ports[i]) CPUs=1 State=UNKNOWN\n" }
        text += "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP\n"
        try AtomicFile.write(text, to: conf)
        try spawn("/usr/sbin/slurmctld", ["-D", "-f", conf])
        for i in 1...3 { try spawn("/usr/sbin/slurmd", ["-D", "-f", conf, "-N", "n\(i)"]) }
        // wait until the three nodes are idle
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if let out = try? run("/usr/bin/sinfo", ["-h", "-N", "-o", "%N %t"]),
               out.split(separator: "\n").filter({ $0.hasSuffix(" idle") }).count == 3 { return }
            usleep(200_000)
        }
        throw KilnMessage("slurm on loopback did not come up in 30 s; see \(dir)/log")
    }

    /// Node names of every job in the jobcomp record.
    func finishedJobs() -> [(id: String, node: String, state: String)] {
        let text = (try? String(contentsOfFile: dir + "/log/jobcomp.txt", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map { line in
            let f = SlurmExecutor.fields(String(line))
            return (f["JobId"] ?? "", f["NodeList"] ?? "", f["JobState"] ?? "")
        }
    }

    func stop() {
        for pid in daemonPIDs.reversed() { kill(pid, SIGTERM) }
        for pid in daemonPIDs {
            var status: Int32 = 0, n = 0
            while waitpid(pid, &status, WNOHANG) == 0 && n < 200 { usleep(50_000); n += 1 }
            if n == 200 { kill(pid, SIGKILL); waitpid(pid, &status, 0) }
        }
        daemonPIDs = []
        if let pid = mungePID {
            kill(pid, SIGTERM)
            var n = 0
            while kill(pid, 0) == 0 && n < 100 { usleep(50_000); n += 1 }
            if kill(pid, 0) == 0 { kill(pid, SIGKILL) }
            mungePID = nil
        }
    }

    /// posix_spawn with stdin/stdout/stderr on /dev/null or a file and every other descriptor
    /// closed (the daemons must not hold this process's pipes).
    private func posixSpawn(_ exe: String, _ args: [String], output: String?) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output ?? "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        for fd in 3..<256 { posix_spawn_file_actions_addclose(&actions, Int32(fd)) }
        let env = environment.map { "\($0.key)=\($0.value)" }
        let argv = ([exe] + args).map { strdup($0) } + [nil]
        let envp = env.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) }; for p in envp { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, exe, &actions, nil, argv, envp)
        guard rc == 0 else { throw KilnMessage("cannot start \(exe): \(String(cString: strerror(rc)))") }
        return pid
    }

    private func spawn(_ exe: String, _ args: [String]) throws {
        daemonPIDs.append(try posixSpawn(exe, args, output: nil))
    }

    @discardableResult
    private func run(_ exe: String, _ args: [String]) throws -> String {
        let out = dir + "/.run-output"
        let pid = try posixSpawn(exe, args, output: out)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        guard status == 0 else { throw KilnMessage("\(exe) \(args.joined(separator: " ")) failed (wait status \(status)): \(text)") }
        return text
    }

    private func waitForPID(_ path: String) throws -> pid_t {
        for _ in 0..<100 {
            if let s = try? String(contentsOfFile: path, encoding: .utf8), let pid = pid_t(s.trimmingCharacters(in: .whitespacesAndNewlines)) { return pid }
            usleep(50_000)
        }
        throw KilnMessage("munged wrote no pid file \(path)")
    }
}

/// `kiln nightly --executor slurm` against a real Slurm on loopback (three slurmd).
final class SlurmExecutorTests: XCTestCase {
    func testSlurmRunMatchesLocalBytesSpreadsOverNodesAndRerunSubmitsNothing() throws {
        // ~11 s, so it runs in `make test`; without the daemons it skips, and fails under KILN_TEST_FULL=1
        let full = ProcessInfo.processInfo.environment["KILN_TEST_FULL"] == "1"
        let missing = LoopbackSlurm.missingTools
        if !missing.isEmpty {
            let msg = "Slurm/munge tools missing: \(missing.joined(separator: ", ")); run `make deps` (slurm-wlm slurmctld slurmd slurm-client munge)"
            if full { XCTFail(msg); return }
            throw XCTSkip(msg)
        }
        guard FileManager.default.fileExists(atPath: "/etc/munge/munge.key") else {
            let msg = "/etc/munge/munge.key is missing (the munge package's postinst creates it); reinstall munge"
            if full { XCTFail(msg); return }
            throw XCTSkip(msg)
        }
        guard getuid() == 0 else { throw XCTSkip("the loopback Slurm cluster runs its daemons as root") }
        let base = "/tmp/kiln-slurm-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: base) }
        let cluster = LoopbackSlurm(dir: base + "/slurm")
        addTeardownBlock { cluster.stop() }
        try cluster.start()

        var recipes: [String: String] = [:]
        recipes["a"] = NightlyCLITests.recipe("a"); recipes["b"] = NightlyCLITests.recipe("b", deps: ["a"])
        recipes["c"] = NightlyCLITests.recipe("c"); recipes["d"] = NightlyCLITests.recipe("d", deps: ["c"])
        try FileManager.default.createDirectory(atPath: base + "/recipes", withIntermediateDirectories: true)
        for (n, t) in recipes { try AtomicFile.write(t, to: "\(base)/recipes/\(n).yaml") }
        let k = try TestSupport.kiln(["keygen", "--type", "rsa", "--out", base + "/k"])
        XCTAssertEqual(k.status, 0, k.err)
        func nightly(_ out: String, _ extra: [String]) throws -> (status: Int32, out: String, err: String) {
            try TestSupport.kiln(["nightly", "--recipes", base + "/recipes", "--out", out, "--signing-key", base + "/k.rsa",
                                  "--jobs", "3", "--no-images"] + extra, environment: cluster.environment)
        }
        let t0 = Date()
        var r = try nightly(base + "/local", ["--executor", "local"])
        XCTAssertEqual(r.status, 0, r.out + r.err)
        let t1 = Date()
        r = try nightly(base + "/slurm", ["--executor", "slurm", "--store", base + "/store"])
        XCTAssertEqual(r.status, 0, r.out + r.err)
        let t2 = Date()
        print("slurm test: local \(t1.timeIntervalSince(t0)) s, slurm \(t2.timeIntervalSince(t1)) s for 4 nodes")
        XCTAssertTrue(r.out.contains(": 4 built, 0 unchanged, 0 failed"), r.out)
        for n in ["a", "b", "c", "d"] {
            let local = FileManager.default.contents(atPath: "\(base)/local/packages/x86_64/\(n)-1.0-r0.apk")
            let slurm = FileManager.default.contents(atPath: "\(base)/slurm/packages/x86_64/\(n)-1.0-r0.apk")
            XCTAssertNotNil(slurm, n)
            XCTAssertEqual(local, slurm, "\(n): --executor slurm built other bytes than --executor local")
        }
        // the coordinator signed the index (workers never write it)
        XCTAssertTrue(FileManager.default.fileExists(atPath: base + "/slurm/packages/x86_64/APKINDEX.tar.gz"))
        // workers never saw the signing key: the plan carries only the public key, the job command
        // line names no key, and the packages (same bytes as local) carry the coordinator's signature
        let runs = try FileManager.default.contentsOfDirectory(atPath: base + "/store/runs")
        XCTAssertEqual(runs.count, 1)
        let planText = try String(contentsOfFile: "\(base)/store/runs/\(runs[0])/plan.json", encoding: .utf8)
        XCTAssertTrue(planText.contains("BEGIN PUBLIC KEY") && !planText.contains("PRIVATE") && !planText.contains("k.rsa\""), planText)
        XCTAssertFalse(try String(contentsOfFile: base + "/k.rsa", encoding: .utf8).split(separator: "\n").dropFirst().prefix(3)
            .contains { planText.contains($0) })

        let report = try latestReport(base + "/slurm")
        let placements = report.nodes.compactMap(\.placement)
        XCTAssertEqual(placements.count, 4, "\(report.nodes.map { ($0.id, $0.placement ?? "-") })")
        let jobs = cluster.finishedJobs()
        XCTAssertEqual(jobs.count, 4, "\(jobs)")
        XCTAssertTrue(jobs.allSatisfy { $0.state == "COMPLETED" }, "\(jobs)")
        XCTAssertGreaterThanOrEqual(Set(jobs.map(\.node)).count, 2, "jobs all ran on one slurmd: \(jobs)")
        for p in placements { XCTAssertTrue(p.range(of: #"^slurm job \d+ on n[123]$"#, options: .regularExpression) != nil, p) }

        // a rerun plans nothing and submits nothing
        r = try nightly(base + "/slurm", ["--executor", "slurm", "--store", base + "/store"])
        XCTAssertEqual(r.status, 0, r.out + r.err)
        XCTAssertTrue(r.out.contains(": 0 built, 4 unchanged"), r.out)
        usleep(300_000)
        XCTAssertEqual(cluster.finishedJobs().count, 4)

        // a job that leaves no result fails the node after one retry, whatever Slurm says
        // (and blocks its dependent f, which is never submitted)
        try AtomicFile.write(NightlyCLITests.recipe("e", steps: "- runs: echo broken >&2; exit 3"), to: base + "/recipes/e.yaml")
        try AtomicFile.write(NightlyCLITests.recipe("f", deps: ["e"]), to: base + "/recipes/f.yaml")
        r = try nightly(base + "/slurm", ["--executor", "slurm", "--store", base + "/store", "--keep-going"])
        XCTAssertEqual(r.status, 1, r.out + r.err)
        XCTAssertTrue(r.out.contains(": 0 built, 4 unchanged, 1 failed, 1 blocked"), r.out)
        XCTAssertTrue(r.out.contains("failed: e: e: slurm job") && r.out.contains("(attempt 2)"), r.out)
        XCTAssertEqual(cluster.finishedJobs().count, 6, "\(cluster.finishedJobs())")
        let log = try String(contentsOfFile: base + "/store/logs/e.log", encoding: .utf8)
        XCTAssertTrue(log.contains("broken"), log)

        // a job stuck PENDING past --slurm-pending-timeout is cancelled; the node fails with Slurm's reason
        try AtomicFile.write(NightlyCLITests.recipe("late"), to: base + "/recipes/late.yaml")
        r = try nightly(base + "/slurm", ["--executor", "slurm", "--store", base + "/store", "--only", "late",
                                          "--sbatch-arg", "--begin=now+3600", "--slurm-pending-timeout", "1"])
        XCTAssertEqual(r.status, 1, r.out + r.err)
        XCTAssertTrue(r.out.contains("still PENDING after 1 s (Reason=BeginTime)"), r.out)
        usleep(300_000)
        XCTAssertEqual(cluster.finishedJobs().last?.state, "CANCELLED", "\(cluster.finishedJobs())")
        try FileManager.default.removeItem(atPath: base + "/recipes/late.yaml")

        // the report's timeline has one row per slurm node, and the node table names node and job
        let html = try String(contentsOfFile: "\(base)/slurm/reports/\(report.runID)/report.html", encoding: .utf8)
        let rows = html.components(separatedBy: "<text class=\"row\"").count - 1
        XCTAssertEqual(rows, Set(placements.compactMap { $0.components(separatedBy: " on ").last }).count, html)
        XCTAssertTrue(html.contains("<span class=\"meta placement\">slurm job "), html)

        // Ctrl-C cancels the job it submitted (by id) and the run ends
        try AtomicFile.write(NightlyCLITests.recipe("slow", steps: "- runs: sleep 60"), to: base + "/recipes/slow.yaml")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: TestSupport.kilnExecutable)
        p.arguments = ["nightly", "--recipes", base + "/recipes", "--out", base + "/slurm", "--signing-key", base + "/k.rsa", "--no-images",
                       "--executor", "slurm", "--store", base + "/store", "--only", "slow"]
        p.environment = cluster.environment
        p.standardOutput = FileHandle.nullDevice; p.standardError = FileHandle.nullDevice; p.standardInput = FileHandle.nullDevice
        try p.run()
        var running = false
        let until = Date().addingTimeInterval(30)
        while Date() < until && !running {
            let q = try TestSupport.run("/usr/bin/squeue", ["-h", "-o", "%j %T"], environment: cluster.environment)
            running = q.out.contains("kiln-slow RUNNING")
            if !running { usleep(200_000) }
        }
        XCTAssertTrue(running, "the slow job never ran")
        kill(p.processIdentifier, SIGINT)
        let stopBy = Date().addingTimeInterval(20)
        while p.isRunning && Date() < stopBy { usleep(100_000) }
        if p.isRunning { kill(p.processIdentifier, SIGKILL); XCTFail("kiln nightly did not stop after Ctrl-C") }
        p.waitUntilExit()
        usleep(500_000)
        let last = cluster.finishedJobs().last
        XCTAssertEqual(last?.state, "CANCELLED", "\(cluster.finishedJobs())")
    }

    func latestReport(_ out: String) throws -> RunReport {
        let runs = try JSONDecoder().decode([ReportWriter.IndexEntry].self, from: Data(contentsOf: URL(fileURLWithPath: out + "/reports/runs.json")))
        return try JSONDecoder().decode(RunReport.self, from: Data(contentsOf: URL(fileURLWithPath: "\(out)/reports/\(runs[0].runID)/report.json")))
    }

    func testResourceArgumentsAndJobFields() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let text = NightlyCLITests.recipe("r").replacingOccurrences(of: "  copyright:", with: "  resources:\n    cpu: \"4\"\n    memory: 8Gi\n  copyright:")
        try AtomicFile.write(text, to: dir + "/r.yaml")
        XCTAssertEqual(try SlurmExecutor.resourceArguments(recipePath: dir + "/r.yaml"), ["--cpus-per-task=4", "--mem=8G"])
        try AtomicFile.write(text.replacingOccurrences(of: "8Gi", with: "lots"), to: dir + "/bad.yaml")
        XCTAssertThrowsError(try SlurmExecutor.resourceArguments(recipePath: dir + "/bad.yaml")) {
            XCTAssertTrue("\($0)".contains("bad.yaml: resources.memory lots"), "\($0)")
        }
        let f = SlurmExecutor.fields("JobId=7 JobName=kiln-a JobState=COMPLETED NodeList=n2 ExitCode=0:0\n")
        XCTAssertEqual(f["JobState"], "COMPLETED"); XCTAssertEqual(f["NodeList"], "n2")
        XCTAssertEqual(SlurmExecutor.shellQuote("it's"), #"'it'\''s'"#)
    }
}

/// The shared-directory store: content-addressed blobs, atomic results.
final class SharedDirectoryStoreTests: XCTestCase {
    func testBlobsAreContentAddressedAndCheckedAndResultsRoundTrip() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let store = SharedDirectoryStore(root: dir + "/store")
        try FileManager.default.createDirectory(atPath: dir + "/store/staging", withIntermediateDirectories: true)
        try AtomicFile.write("package bytes", to: dir + "/store/staging/x.apk")
        let digest = try store.putBlob(movingFile: dir + "/store/staging/x.apk")
        XCTAssertEqual(digest, "sha256:" + (try Digest.sha256Hex(Data("package bytes".utf8))))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/store/staging/x.apk"))
        try store.getBlob(digest, to: dir + "/repo/x.apk")
        XCTAssertEqual(try String(contentsOfFile: dir + "/repo/x.apk", encoding: .utf8), "package bytes")
        // a tampered blob is refused, a malformed digest is refused before any path is built
        try AtomicFile.write("evil", to: dir + "/store/blobs/sha256/" + digest.dropFirst(7))
        XCTAssertThrowsError(try store.getBlob(digest, to: dir + "/repo/y.apk")) { XCTAssertTrue("\($0)".contains("does not match"), "\($0)") }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/repo/y.apk"))
        XCTAssertThrowsError(try store.getBlob("sha256:../../etc/passwd", to: dir + "/repo/z")) { XCTAssertTrue("\($0)".contains("bad blob digest"), "\($0)") }

        XCTAssertNil(store.result("a@fips"))
        let key = InputKey(key: "k", components: [:], dependencies: [:])
        let r = WorkerResult(result: StoredResult(id: "a@fips", input: key, outputs: [], version: "1-r0", runID: "run", durationSeconds: 1),
                             packages: [], worker: "n2", jobID: "7")
        try store.writeResult(r)
        XCTAssertEqual(store.result("a@fips"), r)
        try store.removeResult("a@fips")
        XCTAssertNil(store.result("a@fips"))
        // a worker plan that is not one names its file
        try AtomicFile.write("{}", to: dir + "/plan.json")
        XCTAssertThrowsError(try SharedDirectoryStore.loadPlan(path: dir + "/plan.json")) { XCTAssertTrue("\($0)".contains("plan.json: not a kiln worker plan"), "\($0)") }
    }
}

/// The figures for the note (`scripts/bench-slurm.sh`, KILN_BENCH_SLURM=1): the generated 6-recipe
/// catalog (two independent chains a→b→c, x→y→z) with `--executor local` and with
/// `--executor slurm` on three slurmd, and Slurm's overhead per node from the coordinator's logs.
final class SlurmBenchmarkTests: XCTestCase {
    func testSixRecipeCatalogLocalVersusSlurm() throws {
        guard ProcessInfo.processInfo.environment["KILN_BENCH_SLURM"] == "1" else { throw XCTSkip("set KILN_BENCH_SLURM=1 (scripts/bench-slurm.sh)") }
        guard LoopbackSlurm.missingTools.isEmpty, getuid() == 0 else { return XCTFail("needs the Slurm/munge packages and root") }
        let runs = Int(ProcessInfo.processInfo.environment["KILN_BENCH_RUNS"] ?? "3") ?? 3
        let base = "/tmp/kiln-slurm-bench-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: base + "/recipes", withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: base) }
        let cluster = LoopbackSlurm(dir: base + "/slurm")
        addTeardownBlock { cluster.stop() }
        try cluster.start()
        let recipes = ["a": NightlyCLITests.recipe("a"), "b": NightlyCLITests.recipe("b", deps: ["a"]), "c": NightlyCLITests.recipe("c", deps: ["b"]),
                       "x": NightlyCLITests.recipe("x"), "y": NightlyCLITests.recipe("y", deps: ["x"]), "z": NightlyCLITests.recipe("z", deps: ["y"])]
        for (n, t) in recipes { try AtomicFile.write(t, to: "\(base)/recipes/\(n).yaml") }
        XCTAssertEqual(try TestSupport.kiln(["keygen", "--type", "rsa", "--out", base + "/k"]).status, 0)
        var local: [Double] = [], slurm: [Double] = [], start: [Double] = [], seen: [Double] = []
        for i in 0..<runs {
            for (executor, out) in [("local", "\(base)/local\(i)"), ("slurm", "\(base)/slurm\(i)")] {
                let t0 = Date()
                let r = try TestSupport.kiln(["nightly", "--recipes", base + "/recipes", "--out", out, "--signing-key", base + "/k.rsa",
                                              "--jobs", "3", "--no-images", "--executor", executor, "--store", out + "/store"], environment: cluster.environment)
                let secs = Date().timeIntervalSince(t0)
                XCTAssertEqual(r.status, 0, r.out + r.err)
                XCTAssertTrue(r.out.contains(": 6 built"), r.out)
                if executor == "local" { local.append(secs) } else { slurm.append(secs) }
            }
            let logs = try FileManager.default.subpathsOfDirectory(atPath: "\(base)/slurm\(i)/reports").filter { $0.hasSuffix(".log") }
            for l in logs {
                let text = try String(contentsOfFile: "\(base)/slurm\(i)/reports/\(l)", encoding: .utf8)
                for line in text.split(separator: "\n") where line.contains("submit→start") {
                    let nums = line.components(separatedBy: " s").compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }
                    if nums.count >= 3 { start.append(nums[0]); seen.append(nums[2]) }
                }
            }
        }
        func stats(_ v: [Double]) -> String {
            let s = v.sorted()
            return s.isEmpty ? "-" : String(format: "median %.2f s (min %.2f, max %.2f, n=%d)", s[s.count / 2], s.first!, s.last!, s.count)
        }
        print("slurm bench: 6 recipes, two chains of 3, --jobs 3, \(runs) runs each")
        print("slurm bench: --executor local: \(stats(local))")
        print("slurm bench: --executor slurm (3 slurmd): \(stats(slurm))")
        print("slurm bench: per node submit→worker start: \(stats(start))")
        print("slurm bench: per node worker end→seen by kiln: \(stats(seen))")
        print("slurm bench: nodes used: \(Set(cluster.finishedJobs().map(\.node)).sorted())")
        XCTAssertEqual(start.count, 6 * runs, "every node's log has its timing line")
    }
}
