using System.CommandLine;
using System.Text;
using System.Text.Json;
using Edgewise.Cli.Infrastructure;
using Edgewise.Engine.Sessions;
using Edgewise.Hub;
using Edgewise.Text.Chat;

namespace Edgewise.Cli.Commands;

/// <summary><c>edgewise generate MODEL [PROMPT]</c>: one answer, from the argument or standard input, streamed or as JSON.</summary>
internal static class GenerateCommand
{
    public static Command Create()
    {
        var command = new Command("generate", "Answer one prompt (argument or stdin) and exit; --json prints text and usage as JSON.");
        var model = new ModelOptions();
        var generation = new GenerationCliOptions();
        var prompt = new Argument<string?>("prompt") { Description = "The user message; read from standard input when absent.", Arity = ArgumentArity.ZeroOrOne };
        var json = new Option<bool>("--json") { Description = "Print one JSON object: text, reasoning, tool calls, finish reason, usage." };
        var raw = new Option<bool>("--raw") { Description = "Complete the prompt text as is, without the chat template." };
        model.AddTo(command);
        command.Arguments.Add(prompt);
        generation.AddTo(command);
        command.Options.Add(json);
        command.Options.Add(raw);
        command.SetAction(async (parse, cancellationToken) =>
        {
            string? text = parse.GetValue(prompt);
            if (text is null)
            {
                if (!Console.IsInputRedirected)
                {
                    Console.Error.WriteLine("error: give a prompt as an argument or on standard input.");
                    return 2;
                }
                text = await Console.In.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
            }
            try
            {
                (EdgewiseModel loaded, TimeSpan loadTime) = await model.LoadAsync(parse, Console.Error, cancellationToken).ConfigureAwait(false);
                using (loaded)
                using (ChatSession session = loaded.CreateSession(parse.GetValue(model.Context)))
                {
                    GenerationOptions options = generation.Build(parse);
                    IAsyncEnumerable<GenerationUpdate> stream;
                    if (parse.GetValue(raw))
                    {
                        stream = session.CompleteAsync(text, options, cancellationToken);
                    }
                    else
                    {
                        var messages = new List<ChatMessage>();
                        if (parse.GetValue(generation.System) is string system) messages.Add(ChatMessage.System(system));
                        messages.Add(ChatMessage.User(text.Trim()));
                        stream = session.GenerateAsync(messages, options, cancellationToken);
                    }
                    return await WriteAsync(stream, parse.GetValue(json), loadTime, Console.Out).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is FileNotFoundException or HubException or ContextOverflowException or InvalidDataException or NotSupportedException)
            {
                Console.Error.WriteLine($"error: {ex.Message}");
                return 1;
            }
        });
        return command;
    }

    /// <summary>Streams answer text to <paramref name="output"/>, or collects everything into one JSON object.</summary>
    internal static async Task<int> WriteAsync(IAsyncEnumerable<GenerationUpdate> stream, bool json, TimeSpan loadTime, TextWriter output)
    {
        var text = new StringBuilder();
        var reasoning = new StringBuilder();
        var calls = new List<(string Id, string Name, StringBuilder Arguments)>();
        GenerationUsage? usage = null;
        await foreach (GenerationUpdate u in stream.ConfigureAwait(false))
        {
            switch (u.Kind)
            {
                case GenerationUpdateKind.Text:
                    text.Append(u.Text);
                    if (!json) await output.WriteAsync(u.Text).ConfigureAwait(false);
                    break;
                case GenerationUpdateKind.Reasoning:
                    reasoning.Append(u.Text);
                    break;
                case GenerationUpdateKind.ToolCallStart:
                    calls.Add((u.ToolCallId!, u.Text, new StringBuilder()));
                    break;
                case GenerationUpdateKind.ToolCallArguments:
                    calls[u.ToolCallIndex].Arguments.Append(u.Text);
                    break;
                case GenerationUpdateKind.Finished:
                    usage = u.Usage;
                    break;
            }
        }
        if (!json)
        {
            await output.WriteLineAsync().ConfigureAwait(false);
            return 0;
        }
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("text", text.ToString());
            if (reasoning.Length > 0) w.WriteString("reasoning", reasoning.ToString());
            w.WriteStartArray("tool_calls");
            foreach (var (id, name, arguments) in calls)
            {
                w.WriteStartObject();
                w.WriteString("id", id);
                w.WriteString("name", name);
                w.WriteString("arguments", arguments.ToString());
                w.WriteEndObject();
            }
            w.WriteEndArray();
            if (usage is not null)
            {
                w.WriteString("finish_reason", usage.FinishReason switch { FinishReason.Length => "length", FinishReason.ToolCalls => "tool_calls", _ => "stop" });
                w.WriteStartObject("usage");
                w.WriteNumber("prompt_tokens", usage.PromptTokens);
                w.WriteNumber("cached_tokens", usage.CachedTokens);
                w.WriteNumber("completion_tokens", usage.CompletionTokens);
                w.WriteNumber("load_ms", Math.Round(loadTime.TotalMilliseconds, 1));
                w.WriteNumber("prefill_ms", Math.Round(usage.PrefillTime.TotalMilliseconds, 1));
                w.WriteNumber("decode_ms", Math.Round(usage.DecodeTime.TotalMilliseconds, 1));
                w.WriteNumber("prefill_tokens_per_second", Math.Round(usage.PrefillTokensPerSecond, 2));
                w.WriteNumber("decode_tokens_per_second", Math.Round(usage.DecodeTokensPerSecond, 2));
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        await output.WriteLineAsync(Encoding.UTF8.GetString(buffer.ToArray())).ConfigureAwait(false);
        return 0;
    }
}
