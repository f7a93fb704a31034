using Edgewise.Server.Backend;

namespace Edgewise.Server.Hosting;

/// <summary>What every endpoint shares: the backend, the admission queue, the counters, the settings.</summary>
public sealed class ServerState(IChatBackend backend, ServerOptions options)
{
    public IChatBackend Backend { get; } = backend;
    public ServerOptions Options { get; } = options;
    public AdmissionQueue Queue { get; } = new(options.Parallel, options.QueueLength);
    public ServerMetrics Metrics { get; } = new();
}
