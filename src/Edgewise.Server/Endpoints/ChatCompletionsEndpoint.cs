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

public static class ChatCompletionsEndpoint
{
    /// <summary><c>POST /v1/chat/completions</c> (also without the <c>/v1</c> prefix, as some clients send it).</summary>
    public static IEndpointRouteBuilder MapChatCompletions(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/chat/completions", HandleAsync);
        app.MapPost("/chat/completions", HandleAsync);
        return app;
    }

    private static async Task HandleAsync(HttpContext http)
    {
        var state = http.RequestServices.GetRequiredService<ServerState>();
        var dto = await JsonBody.ReadAsync(http, ServerJsonContext.Default.ChatCompletionRequestDto);
        var call = ChatRequestMapper.Map(dto, state.Backend);
        await using var generation = await Generation.StartAsync(state, call.Request, http, sseKeepAlive: call.Stream);
        var id = Ids.ChatCompletion();
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        if (call.Stream)
            await StreamAsync(http, generation, call, id, created);
        else
            await RespondAsync(http, generation, call, id, created);
    }

    private static async Task RespondAsync(HttpContext http, Generation generation, ChatCall call, string id, long created)
    {
        var result = await GenerationResult.CollectAsync(generation, call.Request.ChoiceCount);
        var choices = new List<ChatChoiceDto>(result.Choices.Length);
        for (var i = 0; i < result.Choices.Length; i++)
        {
            var choice = result.Choices[i];
            List<ToolCallOutDto>? toolCalls = choice.ToolCalls.Count == 0 ? null
                : [.. choice.ToolCalls.Select(c => new ToolCallOutDto(c.Id, new FunctionOutDto(c.Name, c.Arguments.ToString())))];
            // OpenAI sends content null when the turn is only tool calls.
            var content = choice.Text.Length == 0 && toolCalls is not null ? null : choice.Text.ToString();
            var message = new AssistantMessageDto(content, choice.Reasoning.Length > 0 ? choice.Reasoning.ToString() : null, toolCalls);
            var logprobs = call.Request.Logprobs ? Logprobs(choice.Logprobs) : null;
            choices.Add(new ChatChoiceDto(i, message, logprobs, GenerationResult.FinishReasonText(choice.Finish ?? FinishReason.Stop)));
        }

        var dto = new ChatCompletionDto(id, created, call.Model.Id, choices, Usage(result.Usage));
        await http.Response.WriteAsJsonAsync(dto, ServerJsonContext.Default.ChatCompletionDto, contentType: null, http.RequestAborted);
    }

    private static async Task StreamAsync(HttpContext http, Generation generation, ChatCall call, string id, long created)
    {
        var writer = EventStreamWriter.StartSse(http);
        var model = call.Model.Id;
        var types = ServerJsonContext.Default.ChatChunkDto;
        // The role goes out once per choice, in the first delta, as OpenAI does.
        for (var i = 0; i < call.Request.ChoiceCount; i++)
            await writer.WriteAsync(Chunk(id, created, model, i, new DeltaDto(Role: "assistant", Content: ""), null, null), types);

        try
        {
            await foreach (var e in generation.ReadAllAsync())
            {
                var chunk = e switch
                {
                    TextDeltaEvent text => Chunk(id, created, model, e.Choice, new DeltaDto(Content: text.Text),
                        call.Request.Logprobs && text.Logprobs is not null ? Logprobs(text.Logprobs) : null, null),
                    ReasoningDeltaEvent reasoning => Chunk(id, created, model, e.Choice, new DeltaDto(ReasoningContent: reasoning.Text), null, null),
                    ToolCallStartEvent start => Chunk(id, created, model, e.Choice,
                        new DeltaDto(ToolCalls: [new ToolCallDeltaDto(start.Index, start.Id, "function", new FunctionDeltaDto(start.Name, ""))]), null, null),
                    ToolCallArgumentsEvent args => Chunk(id, created, model, e.Choice,
                        new DeltaDto(ToolCalls: [new ToolCallDeltaDto(args.Index, null, null, new FunctionDeltaDto(null, args.Fragment))]), null, null),
                    FinishedEvent finished => Chunk(id, created, model, e.Choice, new DeltaDto(), null, GenerationResult.FinishReasonText(finished.Reason)),
                    UsageEvent usage when call.IncludeUsage => new ChatChunkDto(id, created, model, [], Usage(usage.Usage)),
                    _ => null,
                };
                if (chunk is not null)
                    await writer.WriteAsync(chunk, types);
            }
        }
        catch (Exception ex) when (!http.RequestAborted.IsCancellationRequested)
        {
            // Headers are gone; report in-band (llama-server style) and end without [DONE].
            await writer.WriteAsync(ErrorHandlingMiddleware.ToEnvelope(ErrorHandlingMiddleware.ToApiException(ex)), ServerJsonContext.Default.ErrorEnvelopeDto);
            return;
        }

        await writer.WriteDoneAsync();
    }

    private static ChatChunkDto Chunk(string id, long created, string model, int choice, DeltaDto delta, LogprobsDto? logprobs, string? finishReason) =>
        new(id, created, model, [new ChunkChoiceDto(choice, delta, logprobs, finishReason)], null);

    internal static UsageDto Usage(GenerationUsage usage) =>
        new(usage.PromptTokens, usage.CompletionTokens, usage.TotalTokens,
            new PromptTokensDetailsDto(usage.CachedPromptTokens), new CompletionTokensDetailsDto(usage.ReasoningTokens));

    internal static LogprobsDto Logprobs(IReadOnlyList<TokenLogprob> tokens)
    {
        var entries = new List<LogprobEntryDto>(tokens.Count);
        foreach (var t in tokens)
        {
            var top = new List<TopLogprobDto>(t.Top.Count);
            foreach (var alt in t.Top)
                top.Add(new TopLogprobDto(alt.Token, alt.Logprob, Bytes(alt.Bytes)));
            entries.Add(new LogprobEntryDto(t.Token, t.Logprob, Bytes(t.Bytes), top));
        }

        return new LogprobsDto(entries);
    }

    // OpenAI sends token bytes as an array of integers, not base64.
    private static int[] Bytes(byte[] bytes)
    {
        var result = new int[bytes.Length];
        for (var i = 0; i < bytes.Length; i++)
            result[i] = bytes[i];
        return result;
    }
}
