using Edgewise.Models.Synthesis;

namespace Edgewise.Cli.Tests;

/// <summary>A seeded tiny Gemma 4 GGUF written once per test class (no chat template: the built-in one applies).</summary>
public sealed class SyntheticModelFile : IDisposable
{
    private readonly string _directory = System.IO.Directory.CreateTempSubdirectory("edgewise-cli-").FullName;

    public SyntheticModelFile()
    {
        Path = System.IO.Path.Combine(_directory, "tiny.gguf");
        Gemma4GgufSynthesizer.Write(Spec, Path);
    }

    public static Gemma4SynthSpec Spec { get; } = Gemma4SynthSpec.Preset("tiny") with { SlidingWindow = 16, Seed = 11 };

    public string Path { get; }

    public string Directory => _directory;

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
