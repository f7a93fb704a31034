using System.CommandLine;
using Edgewise.Engine.Sampling;
using Edgewise.Engine.Sessions;

namespace Edgewise.Cli.Infrastructure;

/// <summary>Sampling and turn options shared by <c>run</c> and <c>generate</c>.</summary>
internal sealed class GenerationCliOptions
{
    public Option<float> Temperature { get; } = new("--temperature") { Description = "Sampling temperature; 0 is greedy.", DefaultValueFactory = _ => 1f };
    public Option<float> TopP { get; } = new("--top-p") { Description = "Nucleus sampling mass.", DefaultValueFactory = _ => 0.95f };
    public Option<int> TopK { get; } = new("--top-k") { Description = "Keep the K most likely tokens (0: off).", DefaultValueFactory = _ => 64 };
    public Option<ulong?> Seed { get; } = new("--seed") { Description = "Sampler seed, for reproducible output." };
    public Option<int?> MaxTokens { get; } = new("--max-tokens") { Description = "Completion-token cap (default: until the turn ends or the context is full)." };
    public Option<string[]> Stop { get; } = new("--stop") { Description = "A stop string (repeatable).", AllowMultipleArgumentsPerToken = false };
    public Option<bool> Think { get; } = new("--think") { Description = "Enable thinking (Gemma 4); the thoughts are shown dimmed." };
    public Option<string?> System { get; } = new("--system") { Description = "System prompt." };

    public void AddTo(Command command)
    {
        foreach (Option o in new Option[] { Temperature, TopP, TopK, Seed, MaxTokens, Stop, Think, System }) command.Options.Add(o);
    }

    /// <summary>Gemma's recommended sampling (temperature 1, top-p 0.95, top-k 64) unless overridden.</summary>
    public GenerationOptions Build(ParseResult parse) => new()
    {
        Sampling = new SamplingOptions
        {
            Temperature = parse.GetValue(Temperature),
            TopP = parse.GetValue(TopP),
            TopK = parse.GetValue(TopK),
            Seed = parse.GetValue(Seed),
        },
        MaxTokens = parse.GetValue(MaxTokens),
        Stop = parse.GetValue(Stop) ?? [],
        EnableThinking = parse.GetValue(Think),
    };
}
