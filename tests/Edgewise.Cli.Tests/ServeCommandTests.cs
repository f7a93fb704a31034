using System.CommandLine;
using Edgewise.Cli.Commands;
using Edgewise.Core.Tensors;
using Edgewise.Models.Synthesis;
using Xunit;

namespace Edgewise.Cli.Tests;

/// <summary><c>edgewise serve</c> ends with the reason when its model cannot be served, instead of answering 503 forever.</summary>
public sealed class ServeCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgewise-serve-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Context_above_the_models_ends_serve_with_the_limit()
    {
        Gemma4SynthSpec spec = Gemma4SynthSpec.Preset("tiny") with { Dtype = GgmlType.Q8_0, Seed = 3 };
        string model = Path.Combine(_dir, "tiny.gguf");
        Gemma4GgufSynthesizer.Write(spec, model);
        var root = new RootCommand { ServeCommand.Create() };
        TextWriter original = Console.Error;
        var error = new StringWriter();
        Console.SetError(error);
        try
        {
            string ctx = (spec.Context * 2).ToString(System.Globalization.CultureInfo.InvariantCulture);
            Task<int> run = root.Parse(["serve", model, "--port", "0", "--ctx", ctx, "--threads", "1"])
                .InvokeAsync(new InvocationConfiguration { Output = TextWriter.Null, Error = TextWriter.Null });
            int code = await run.WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(1, code);
            Assert.Contains($"--ctx {ctx} is outside 1..{spec.Context}", error.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            Console.SetError(original);
        }
    }
}
