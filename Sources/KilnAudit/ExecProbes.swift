import Foundation
import KilnCore
import KilnImage
import KilnOCI

/// `kiln audit --exec`: behaviour probes run inside the image with kiln's sandbox (KilnImage's
/// `ImageRunner`: the image unpacked into a temporary root, bubblewrap, no network, nothing from the
/// host, 30 s per probe). `openssl list -providers` must show `fips` **active** (the list is read,
/// not the exit code — a tampered module leaves only `base` and exit 0), `openssl dgst -md5` must be
/// refused and `-sha256` must work; for Python images `hashlib.md5()` must raise and `sha256()` work.
struct ExecProbes {
    let layout: OCILayout
    let tag: String
    let root: ImageRoot

    struct Probe { let argv: [String] }

    func run() throws -> (findings: [AuditFinding], summary: String) {
        let hasOpenSSL = root.data("usr/bin/openssl") != nil
        let python = ["usr/bin/python3", "usr/local/bin/python3"].first { root.data($0) != nil }
        guard hasOpenSSL || python != nil else { return ([], "no openssl or python3 in the image: nothing to probe") }
        guard let bwrap = Subprocess.which("bwrap") else { throw KilnMessage("kiln audit --exec needs bwrap (bubblewrap); run `make deps`") }
        let dir = NSTemporaryDirectory() + "kiln-audit-exec-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
        chmod(dir, 0o755)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = try ImageRunner.unpack(layout: layout, ref: tag, into: dir)
        let (uid, gid) = try ImageRunner.resolveUser(config.config.User, root: dir)
        func exec(_ argv: [String]) throws -> Subprocess.Result {
            try Subprocess("/usr/bin/timeout", ["30", bwrap] + ImageRunner.bwrapArguments(root: dir, config: config, argv: argv, uid: uid, gid: gid),
                           environment: [:]).run()
        }
        var f: [AuditFinding] = []
        var done: [String] = []
        func finding(_ id: String, _ path: String, _ msg: String, _ out: String, _ advice: String) {
            let ev = out.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").prefix(6).joined(separator: " | ")
            f.append(AuditFinding(id, .exec, path: path, package: root.owner(path), message: msg,
                                  evidence: AuditEvidence(string: String(ev.prefix(300))), advice: advice))
        }
        if hasOpenSSL {
            let list = try exec(["/usr/bin/openssl", "list", "-providers"])
            if !ExecProbes.fipsActive(list.stdoutString) {
                finding("exec-fips-not-active", "usr/bin/openssl", "`openssl list -providers` (exit \(list.status)) does not show the fips provider with status active",
                        list.stdoutString + list.stderrString, "check the module MAC and the configuration findings; the provider refuses to activate when either is wrong")
            }
            let md5 = try exec(["/usr/bin/openssl", "dgst", "-md5", "/dev/null"])
            if md5.succeeded {
                finding("exec-md5-allowed", "usr/bin/openssl", "`openssl dgst -md5` succeeded: a non-approved digest is available", md5.stdoutString,
                        "activate only fips and base and set default_properties = fips=yes")
            }
            let sha = try exec(["/usr/bin/openssl", "dgst", "-sha256", "/dev/null"])
            if !sha.succeeded {
                finding("exec-sha256-failed", "usr/bin/openssl", "`openssl dgst -sha256` failed (exit \(sha.status)): the FIPS provider does not serve approved algorithms",
                        sha.stderrString, "check the module and configuration findings")
            }
            done.append(f.isEmpty ? "openssl: fips active, MD5 refused, SHA-256 works" : "openssl: \(f.count) probe(s) failed")
        }
        if let python {
            let script = "import hashlib\nhashlib.sha256(b'kiln').hexdigest()\ntry:\n    hashlib.md5(b'kiln')\n    print('md5-allowed')\nexcept ValueError:\n    print('md5-refused')\n"
            let r = try exec(["/" + python, "-c", script])
            if !r.succeeded {
                finding("exec-python-sha256-failed", python, "Python's hashlib.sha256() failed (exit \(r.status))", r.stderrString, "link _hashlib against the image's libcrypto")
            } else if r.stdoutString.contains("md5-allowed") {
                finding("exec-python-md5-allowed", python, "Python's hashlib.md5() works with the FIPS configuration active", r.stdoutString,
                        "build Python with --with-builtin-hashlib-hashes=blake2 so MD5 has no fallback outside OpenSSL")
            }
            let bad = f.contains { $0.id.hasPrefix("exec-python") }
            done.append(bad ? "python: probe failed" : "python: sha256 works, md5 refused")
        }
        return (f, "probed in the sandbox — " + done.joined(separator: "; "))
    }

    /// True when the `openssl list -providers` output has a `fips` entry whose status is active.
    static func fipsActive(_ out: String) -> Bool {
        var current = ""
        for raw in out.split(separator: "\n") {
            let line = String(raw)
            let indent = line.prefix { $0 == " " }.count
            let text = line.trimmingCharacters(in: .whitespaces)
            if indent == 2 { current = text }
            if indent > 2, current == "fips", text.replacingOccurrences(of: " ", with: "") == "status:active" { return true }
        }
        return false
    }
}
