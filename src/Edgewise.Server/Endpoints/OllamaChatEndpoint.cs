using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Edgewise.Server.Backend;
using Edgewise.Server.Hosting;
using Edgewise.Server.Http;
using Edgewise.Server.Json;
using Edgewise.Server.Mapping;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Edgewise.Server.Endpoints;

public static class OllamaChatEndpoint
{
    /// <summary><c>POST /api/chat</c>: Ollama's chat API; streams NDJSON unless <c>"stream": false</c>.</summary>
    public static IEndpointRouteBuilder MapOllamaChat(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/chat", HandleAsync);
        return app;
    }

    private static async Task HandleAsync(HttpContext http)
    {
        var clock = Stopwatch.StartNew();
        var state = http.RequestServices.GetRequiredService<ServerState>();
        var dto = await JsonBody.ReadAsync(http, ServerJsonContext.Default.OllamaChatRequestDto);
        var model = RequestValidation.ResolveModel(state.Backend, dto.Model);
        var types = ServerJsonContext.Default.OllamaChatResponseDto;
        if (dto.Messages is null or { Count: 0 })
        {
            // Ollama answers an empty chat by (re)loading the model; ours is loaded already.
            Generation.EnsureReady(state.Backend);
            var load = new OllamaChatResponseDto(model.Id, Ollama.Now(), new OllamaMessageOutDto("assistant", ""), true) { DoneReason = "load" };
            await http.Response.WriteAsJsonAsync(load, types, contentType: null, http.RequestAborted);
            return;
        }

        var request = OllamaRequestMapper.Chat(dto, model);
        await using var generation = await Generation.StartAsync(state, request, http);
        if (dto.Stream == false)
        {
            var result = await GenerationResult.CollectAsync(generation, 1);
            var choice = result.Choices[0];
            var message = new OllamaMessageOutDto("assistant", choice.Text.ToString())
            {
                Thinking = choice.Reasoning.Length > 0 ? choice.Reasoning.ToString() : null,
                ToolCalls = choice.ToolCalls.Count > 0 ? [.. choice.ToolCalls.Select(Ollama.ToolCall)] : null,
            };
            var final = Ollama.Final(new OllamaChatResponseDto(model.Id, Ollama.Now(), message, true) { Logprobs = Ollama.Logprobs(request, choice.Logprobs) },
                choice.Finish, result.Usage, clock);
            await http.Response.WriteAsJsonAsync(final, types, contentType: null, http.RequestAborted);
            return;
        }

        var writer = EventStreamWriter.StartNdjson(http);
        var calls = new Dictionary<int, ToolCallBuilder>();
        FinishReason? finish = null;
        try
        {
            await foreach (var e in generation.ReadAllAsync())
            {
                OllamaMessageOutDto? delta = null;
                IReadOnlyList<OllamaLogprobDto>? logprobs = null;
                switch (e)
                {
                    case TextDeltaEvent text:
                        delta = new OllamaMessageOutDto("assistant", text.Text);
                        logprobs = Ollama.Logprobs(request, text.Logprobs);
                        break;
                    case ReasoningDeltaEvent reasoning:
                        delta = new OllamaMessageOutDto("assistant", "") { Thinking = reasoning.Text };
                        break;
                    case ToolCallStartEvent start:
                        calls[start.Index] = new ToolCallBuilder(start.Index, start.Id, start.Name);
                        break;
                    case ToolCallArgumentsEvent args when calls.TryGetValue(args.Index, out var open):
                        open.Arguments.Append(args.Fragment);
                        break;
                    case ToolCallEndEvent end when calls.Remove(end.Index, out var done):
                        // Ollama sends each call whole, arguments as an object.
                        delta = new OllamaMessageOutDto("assistant", "") { ToolCalls = [Ollama.ToolCall(done)] };
                        break;
                    case FinishedEvent finished:
                        finish = finished.Reason;
                        // A call the backend never closed still goes out, rather than vanishing.
                        if (calls.Count > 0)
                        {
                            delta = new OllamaMessageOutDto("assistant", "") { ToolCalls = [.. calls.Values.OrderBy(c => c.Index).Select(Ollama.ToolCall)] };
                            calls.Clear();
                        }

                        break;
                    case UsageEvent usage:
                        await writer.WriteAsync(Ollama.Final(new OllamaChatResponseDto(model.Id, Ollama.Now(), new OllamaMessageOutDto("assistant", ""), true), finish, usage.Usage, clock), types);
                        break;
                }

                if (delta is not null)
                    await writer.WriteAsync(new OllamaChatResponseDto(model.Id, Ollama.Now(), delta, false) { Logprobs = logprobs }, types);
            }
        }
        catch (Exception ex) when (!http.RequestAborted.IsCancellationRequested)
        {
            await writer.WriteAsync(new OllamaErrorDto(ErrorHandlingMiddleware.ToApiException(ex).Message), ServerJsonContext.Default.OllamaErrorDto);
        }
    }
}

/// <summary>Pieces shared by the Ollama endpoints: timestamps, final-chunk statistics, tool-call shape.</summary>
internal static class Ollama
{
    /// <summary>Ollama's logprobs array for <paramref name="tokens"/>, or null when the request did not ask.</summary>
    public static IReadOnlyList<OllamaLogprobDto>? Logprobs(GenerationRequest request, IReadOnlyList<TokenLogprob>? tokens)
    {
        if (!request.Logprobs || tokens is null)
            return null;
        var entries = new List<OllamaLogprobDto>(tokens.Count);
        foreach (var t in tokens)
        {
            List<OllamaTopLogprobDto>? top = request.TopLogprobs > 0 ? [.. t.Top.Select(a => new OllamaTopLogprobDto(a.Token, a.Logprob, Bytes(a.Bytes)))] : null;
            entries.Add(new OllamaLogprobDto(t.Token, t.Logprob, Bytes(t.Bytes), top));
        }

        return entries;
    }

    private static int[] Bytes(byte[] bytes) => Array.ConvertAll(bytes, b => (int)b);

    public static string Now() => DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

    public static string DoneReason(FinishReason? finish) => finish == FinishReason.Length ? "length" : "stop";

    public static OllamaChatResponseDto Final(OllamaChatResponseDto dto, FinishReason? finish, GenerationUsage usage, Stopwatch clock) => dto with
    {
        DoneReason = DoneReason(finish),
        TotalDuration = Nanoseconds(clock.Elapsed),
        LoadDuration = 0,
        PromptEvalCount = usage.PromptTokens,
        PromptEvalDuration = Nanoseconds(usage.PrefillTime),
        EvalCount = usage.CompletionTokens,
        EvalDuration = Nanoseconds(usage.DecodeTime),
    };

    public static OllamaGenerateResponseDto Final(OllamaGenerateResponseDto dto, FinishReason? finish, GenerationUsage usage, Stopwatch clock) => dto with
    {
        DoneReason = DoneReason(finish),
        TotalDuration = Nanoseconds(clock.Elapsed),
        LoadDuration = 0,
        PromptEvalCount = usage.PromptTokens,
        PromptEvalDuration = Nanoseconds(usage.PrefillTime),
        EvalCount = usage.CompletionTokens,
        EvalDuration = Nanoseconds(usage.DecodeTime),
    };

    public static OllamaToolCallOutDto ToolCall(ToolCallBuilder call) =>
        new(new OllamaFunctionOutDto(call.Index, call.Name, ArgumentsObject(call.Arguments.ToString()))) { Id = call.Id };

    // Constrained decoding yields valid JSON; if a model still produced something else, pass it on as a string.
    private static JsonElement ArgumentsObject(string json)
    {
        if (json.Length == 0)
            json = "{}";
        try
        {
            using var document = JsonDocument.Parse(json);
            return document.RootElement.Clone();
        }
        catch (JsonException)
        {
            return JsonSerializer.SerializeToElement(json, ServerJsonContext.Default.String);
        }
    }

    private static long Nanoseconds(TimeSpan time) => time.Ticks * 100;
}
