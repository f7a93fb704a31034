using Edgewise.Server.Backend;
using Edgewise.Server.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Edgewise.Server.Tests.Support;

/// <summary>The real server (Kestrel, the full pipeline) on 127.0.0.1 with a free port.</summary>
public sealed class TestServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TestServer(WebApplication app, IChatBackend backend)
    {
        _app = app;
        _backend = backend;
        BaseAddress = EdgewiseServer.BaseAddress(app);
        // No draining of abandoned responses: a client that stops reading closes its connection at
        // once, like a browser tab or a killed agent, instead of HttpClient's 2 s drain for reuse.
        Client = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    public Uri BaseAddress { get; }
    public HttpClient Client { get; }
    private readonly IChatBackend _backend;

    /// <summary>The scripted backend, for tests that started the server with one.</summary>
    public ScriptedBackend Backend => (ScriptedBackend)_backend;
    public ServerState State => _app.Services.GetRequiredService<ServerState>();

    public static async Task<TestServer> StartAsync(IChatBackend? backend = null, ServerOptions? options = null)
    {
        backend ??= new ScriptedBackend();
        var app = EdgewiseServer.Build((options ?? new ServerOptions()) with { Host = "127.0.0.1", Port = 0 }, backend);
        await app.StartAsync();
        return new TestServer(app, backend);
    }

    /// <summary>Waits (bounded) for a condition the server reaches asynchronously, e.g. a cancelled session being released.</summary>
    public static async Task<bool> EventuallyAsync(Func<bool> condition, int timeoutMs = 3000)
    {
        var deadline = Environment.TickCount64 + timeoutMs;
        while (!condition())
        {
            if (Environment.TickCount64 > deadline)
                return false;
            await Task.Delay(10);
        }

        return true;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
