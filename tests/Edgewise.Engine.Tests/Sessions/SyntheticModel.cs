using Edgewise.Engine.Sessions;
using Edgewise.Models.Synthesis;

namespace Edgewise.Engine.Tests.Sessions;

/// <summary>
/// A seeded random-weight Gemma 4 GGUF (tiny preset: 6 layers, hidden 128, 1,024 tokens with every control token at
/// its real id), written once per test class and loaded through the same path as a real file.
/// </summary>
public sealed class SyntheticModel : IDisposable
{
    private readonly string _directory;

    public SyntheticModel()
    {
        _directory = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "edgewise-sessions-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
        Path = System.IO.Path.Combine(_directory, "tiny.gguf");
        Gemma4GgufSynthesizer.Write(Spec, Path);
        Model = EdgewiseModel.Load(Path, new EngineLoadOptions { Threads = 1 });
    }

    public static Gemma4SynthSpec Spec { get; } = Gemma4SynthSpec.Preset("tiny") with { SlidingWindow = 16, Seed = 7 };

    public string Path { get; }

    public EdgewiseModel Model { get; }

    public void Dispose()
    {
        Model.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A mapped file may still be open on some platforms; the temp folder is cleaned by the OS.
        }
    }
}
