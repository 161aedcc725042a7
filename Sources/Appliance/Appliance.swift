// The `appliance` executable: root command and its subcommands.
import ArgumentParser

@main
struct Appliance: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "appliance",
        abstract: "A storage appliance: pools disks or files, carves volumes, serves objects over HTTP.",
        subcommands: [ServeCommand.self, CheckCommand.self, RoutesCommand.self, BenchEngineCommand.self],
        defaultSubcommand: ServeCommand.self)
}
