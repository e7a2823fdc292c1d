/// `mmsim serve`: the HTTP API and the single page of the web visualizer (Hummingbird).
import Foundation
import Hummingbird
import Logging
import MMCore
import MMScenario

/// The recordings a server holds, by id ("r1", "r2", ...), the oldest dropped past the limit.
actor RecordingStore {
    private var byID: [String: Recording] = [:]
    private var order: [String] = []
    private var next = 1
    let limit: Int
    init(limit: Int) { self.limit = max(1, limit) }

    /// Stores `r` and returns its new id, dropping the oldest recording past the limit.
    func add(_ r: Recording) -> String {
        let id = "r\(next)"
        next += 1
        byID[id] = r
        order.append(id)
        while order.count > limit { byID[order.removeFirst()] = nil }
        return id
    }

    /// Returns the recording `id`, or nil when unknown or dropped.
    func get(_ id: String) -> Recording? { byID[id] ?? pinned[id] }

    /// The recordings given at startup (trace replays), by id ("t1", "t2", ...): never dropped.
    private var pinned: [String: Recording] = [:]
    private var pinnedOrder: [String] = []

    /// Stores the startup recording `r` for good and returns its new id.
    func pin(_ r: Recording) -> String {
        let id = "t\(pinnedOrder.count + 1)"
        pinned[id] = r
        pinnedOrder.append(id)
        return id
    }

    /// Returns the startup recordings in the order given, with their ids.
    func pinnedRuns() -> [(String, Recording)] { pinnedOrder.map { ($0, pinned[$0]!) } }
}

/// The page's files, read once from the package resources; nothing else on disk is served.
public enum PageAssets {
    /// The names served under `/` and `/static/`.
    public static let names = ["index.html", "app.js", "style.css"]

    /// Returns the text of asset `name` (one of `names`), or nil when the resource is missing.
    public static func text(_ name: String) -> String? {
        guard names.contains(name),
              let dir = Bundle.module.url(forResource: "Resources", withExtension: nil),
              let data = FileManager.default.contents(atPath: dir.appendingPathComponent(name).path) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }
}

/// Summary of a recording returned by `POST /api/run` and `GET /api/runs/ID`.
struct RunSummary: Codable {
    var id: String
    var file: String
    var events: Int
    var exitStatus: Int32
    var diagnostics: String
    var stoppedEarly: String?
    var processes: [String: String]
    var cpus: Int
    var source: String
}

/// One page of events.
struct EventPage: Codable {
    var from: Int
    var total: Int
    var events: [EventRecord]
}

/// An API error body: a message, and for scenario errors its position.
struct APIError: Codable {
    var error: String
    var line: Int?, column: Int?
    var rendered: String?
}

/// Returns `value` as a JSON response with `status`.
func jsonResponse<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) -> Response {
    let enc = JSONEncoder()
    enc.outputFormatting = [.sortedKeys]
    let data = (try? enc.encode(value)) ?? Data("{}".utf8)
    var headers = HTTPFields()
    headers[.contentType] = "application/json; charset=utf-8"
    headers[.cacheControl] = "no-store"
    return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
}

/// Returns an error response with `message`.
func errorResponse(_ message: String, status: HTTPResponse.Status) -> Response {
    jsonResponse(APIError(error: message), status: status)
}

/// Returns asset `name` with its content type, or 404.
func assetResponse(_ name: String) -> Response {
    guard let text = PageAssets.text(name) else { return errorResponse("not found", status: .notFound) }
    var headers = HTTPFields()
    let type = name.hasSuffix(".html") ? "text/html" : name.hasSuffix(".js") ? "text/javascript" : "text/css"
    headers[.contentType] = type + "; charset=utf-8"
    headers[.contentSecurityPolicy] = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:"
    return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
}

/// Records `source` off the concurrency pool (a run may take seconds); returns the recording or
/// throws its `RecordingError`.
func recordDetached(source: String, file: String, limits: RunLimits) async throws -> Recording {
    let result: Result<Recording, Error> = await withCheckedContinuation { c in
        DispatchQueue.global().async {
            c.resume(returning: Result { try Recording(source: source, file: file, limits: limits) })
        }
    }
    return try result.get()
}

/// Returns the router of the visualizer: the page, its assets and the JSON API (see README.md,
/// "mmsim serve"). Pasted scenarios run with `limits` and never read host files; `traces` (trace
/// replays recorded at startup) are listed by `GET /api/traces` and opened like any run.
public func buildRouter(limits: RunLimits = RunLimits(), traces: [Recording] = []) async -> Router<BasicRequestContext> {
    let store = RecordingStore(limit: limits.maxRecordings)
    for t in traces { _ = await store.pin(t) }
    let router = Router()
    router.get("/api/traces") { _, _ -> Response in
        jsonResponse(await store.pinnedRuns().map { summary($0.0, $0.1) })
    }
    router.get("/") { _, _ in assetResponse("index.html") }
    router.get("/static/:name") { _, ctx in assetResponse(ctx.parameters.get("name") ?? "") }

    router.get("/api/examples") { _, _ in
        struct Item: Codable { var name: String; var summary: String }
        return jsonResponse(Examples.all().map { Item(name: $0.name, summary: $0.summary) })
    }

    router.post("/api/run") { req, _ -> Response in
        let source: String, file: String
        if let name = req.uri.queryParameters["example"].map(String.init) {
            guard let e = Examples.named(name) else { return errorResponse("unknown example '\(name)'", status: .notFound) }
            source = e.source; file = "\(e.name).mmsim"
        } else {
            let body: ByteBuffer
            do {
                body = try await req.body.collect(upTo: limits.maxBodyBytes)
            } catch {
                return errorResponse("the scenario is larger than \(limits.maxBodyBytes) bytes", status: .contentTooLarge)
            }
            source = String(buffer: body); file = "pasted.mmsim"
        }
        do {
            let r = try await recordDetached(source: source, file: file, limits: limits)
            let id = await store.add(r)
            return jsonResponse(summary(id, r))
        } catch let e as RecordingError {
            return jsonResponse(APIError(error: e.message, line: e.line, column: e.column, rendered: e.rendered), status: .badRequest)
        }
    }

    router.get("/api/runs/:id") { _, ctx -> Response in
        guard let id = ctx.parameters.get("id"), let r = await store.get(id) else { return errorResponse("unknown run", status: .notFound) }
        return jsonResponse(summary(id, r))
    }

    router.get("/api/runs/:id/events") { req, ctx -> Response in
        guard let id = ctx.parameters.get("id"), let r = await store.get(id) else { return errorResponse("unknown run", status: .notFound) }
        let from = max(0, min(r.events.count, req.uri.queryParameters.get("from", as: Int.self) ?? 0))
        let count = max(0, min(500, req.uri.queryParameters.get("count", as: Int.self) ?? 100))
        let to = min(r.events.count, from + count)
        return jsonResponse(EventPage(from: from, total: r.events.count, events: Array(r.events[from..<to])))
    }

    router.get("/api/runs/:id/timeline") { req, ctx -> Response in
        guard let id = ctx.parameters.get("id"), let r = await store.get(id) else { return errorResponse("unknown run", status: .notFound) }
        let points = max(2, min(5000, req.uri.queryParameters.get("points", as: Int.self) ?? 800))
        return jsonResponse(r.timeline(maxPoints: points))
    }

    router.get("/api/runs/:id/snapshot") { req, ctx -> Response in
        guard let id = ctx.parameters.get("id"), let r = await store.get(id) else { return errorResponse("unknown run", status: .notFound) }
        let q = req.uri.queryParameters
        guard let event = q.get("event", as: Int.self), event >= 0, event < r.events.count else {
            return errorResponse("event must be 0..<\(r.events.count)", status: .badRequest)
        }
        let pid = q.get("pid", as: Int32.self)
        var va: UInt64? = nil
        if let text = q["va"].map(String.init), !text.isEmpty {
            let t = text.lowercased()
            guard let v = t.hasPrefix("0x") ? UInt64(t.dropFirst(2), radix: 16) : UInt64(t) else {
                return errorResponse("va must be a number (0x... or decimal)", status: .badRequest)
            }
            va = v
        }
        let walkVA = va
        let snap: Snapshot? = await withCheckedContinuation { c in
            DispatchQueue.global().async { c.resume(returning: r.snapshot(event: event, pid: pid, va: walkVA)) }
        }
        guard let s = snap else { return errorResponse("no snapshot", status: .notFound) }
        return jsonResponse(s)
    }
    return router
}

/// Returns the summary of recording `r` stored as `id`.
func summary(_ id: String, _ r: Recording) -> RunSummary {
    RunSummary(id: id, file: r.file, events: r.events.count, exitStatus: r.exitStatus, diagnostics: r.diagnostics,
               stoppedEarly: r.stoppedEarly, processes: r.processNames, cpus: r.cpuCount, source: r.source)
}

/// Runs the visualizer's server on `host`:`port` (with the trace replays `traces`) until it is stopped; `onListening` gets the
/// bound port (useful with port 0); the server logs at `logLevel` and above to standard error.
/// Throws when the address cannot be bound.
public func runServer(host: String = "127.0.0.1", port: Int, limits: RunLimits = RunLimits(), traces: [Recording] = [],
                      logLevel: Logger.Level = .warning, onListening: @escaping @Sendable (Int) -> Void) async throws {
    var logger = Logger(label: "mmsim", factory: { StreamLogHandler.standardError(label: $0) })
    logger.logLevel = logLevel
    let app = Application(router: await buildRouter(limits: limits, traces: traces),
                          configuration: .init(address: .hostname(host, port: port), serverName: "mmsim"),
                          onServerRunning: { channel in onListening(channel.localAddress?.port ?? port) },
                          logger: logger)
    try await app.runService()
}
