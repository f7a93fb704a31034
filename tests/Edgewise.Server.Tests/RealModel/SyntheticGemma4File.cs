using Edgewise.Models.Synthesis;
using Edgewise.Server.Backend;
using Edgewise.Server.Hosting;
using Edgewise.Server.Tests.Support;

namespace Edgewise.Server.Tests.RealModel;

/// <summary>
/// A seeded random-weight Gemma 4 GGUF (the tiny preset: 6 layers, hidden 128, the 1,024-token vocabulary with
/// every control token at its real id), written once per test class. Servers over it load it through the same
/// path as a downloaded file. The sliding window is wider than the preset's so a shared system prompt can be
/// reused after a turn that went past it (the real E-models use 512).
/// </summary>
public sealed class SyntheticGemma4File : IDisposable
{
    private readonly string _directory;

    public SyntheticGemma4File()
    {
        _directory = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "edgewise-adapter-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
        Path = System.IO.Path.Combine(_directory, "tiny-gemma4.gguf");
        Gemma4GgufSynthesizer.Write(Spec, Path);
    }

    public static Gemma4SynthSpec Spec { get; } = Gemma4SynthSpec.Preset("tiny") with { SlidingWindow = 128, Context = 2048, Seed = 11 };

    public string Path { get; }

    /// <summary>A real server on 127.0.0.1:0 over a freshly loaded engine backend; waits until the model is ready.</summary>
    public async Task<(TestServer Server, EngineChatBackend Backend)> StartServerAsync(int parallel = 2, int queue = 16, int context = 1024)
    {
        var backend = new EngineChatBackend(Path, new BackendOptions(context, Threads: 2, Parallel: parallel), new EngineBackendOptions(Id: "tiny-gemma4"));
        await backend.Loaded.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(backend.Status.State == BackendState.Ready, backend.Status.Message);
        var server = await TestServer.StartAsync(backend, new ServerOptions { Parallel = parallel, QueueLength = queue });
        return (server, backend);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A mapped file may still be open on some platforms; the temp folder is cleaned by the OS.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
