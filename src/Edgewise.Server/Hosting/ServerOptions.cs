namespace Edgewise.Server.Hosting;

/// <summary>Everything <see cref="EdgewiseServer.Build"/> needs besides the backend.</summary>
public sealed record ServerOptions
{
    /// <summary>Address to bind: an IP literal or <c>localhost</c>.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>TCP port; 0 picks a free one (tests), read back with <see cref="EdgewiseServer.BaseAddress"/>.</summary>
    public int Port { get; init; } = 8080;

    /// <summary>Bearer key every request except <c>/health</c> must carry; null: no authentication.</summary>
    public string? ApiKey { get; init; }

    /// <summary>Bind a non-loopback address without an API key anyway.</summary>
    public bool AllowInsecureRemote { get; init; }

    /// <summary>Generations running at once; the rest wait in the queue.</summary>
    public int Parallel { get; init; } = 1;

    /// <summary>Requests allowed to wait for a slot; one more is answered 429.</summary>
    public int QueueLength { get; init; } = 16;

    /// <summary>Largest request body accepted, in bytes; larger bodies get 413.</summary>
    public long MaxBodyBytes { get; init; } = 16 * 1024 * 1024;

    /// <summary>Origins allowed by CORS; empty: CORS off (browsers on other origins are refused).</summary>
    public IReadOnlyList<string> CorsOrigins { get; init; } = [];

    /// <summary>Value of <c>Retry-After</c> on 429 answers.</summary>
    public int RetryAfterSeconds { get; init; } = 1;

    /// <summary>
    /// While a streamed request waits for a slot or its prompt is prefilled, an SSE comment (<c>: keep-alive</c>) goes
    /// out this often so proxies and IDE clients do not time out; zero turns it off. The first one commits the 200, so
    /// an error after it arrives in-band.
    /// </summary>
    public TimeSpan KeepAliveInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Minimum level for ASP.NET Core's own log lines.</summary>
    public Microsoft.Extensions.Logging.LogLevel LogLevel { get; init; } = Microsoft.Extensions.Logging.LogLevel.Warning;
}

/// <summary>A setting that would make the server unsafe or unusable; thrown before anything binds.</summary>
public sealed class ServerConfigurationException : Exception
{
    public ServerConfigurationException(string message) : base(message)
    {
    }
}
