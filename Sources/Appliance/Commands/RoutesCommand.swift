// `appliance routes`: prints the route table (METHOD /template per line), for diffing with openapi.yaml.
import API
import ArgumentParser
import Engine
import Foundation
import Logging

struct RoutesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "routes", abstract: "Print the HTTP route table.")

    func run() throws {
        // The real router needs an engine: build one on a throw-away data directory.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("appliance-routes-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let engine = try Engine.open(dataDirectory: dir, logger: Logger(label: "routes"))
        defer { engine.shutdown() }
        let keys = try AccessKeyStore(engine: engine, keyFile: dir + "/" + ApplianceConfiguration.secretsKeyFileName)
        let metrics = HTTPMetrics()
        let console = Console(engine: engine, metrics: metrics, settings: ConsoleSettings(tls: false, s3Port: { nil }, region: "us-east-1"))
        let router = Routes.makeRouter(
            engine: engine, token: String(repeating: "x", count: 32), metrics: metrics, keys: keys, console: console)
        for route in router.routes { print("\(route.method) \(route.template)") }
    }
}
