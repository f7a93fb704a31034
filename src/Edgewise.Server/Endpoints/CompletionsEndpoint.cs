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

public static class CompletionsEndpoint
{
    /// <summary><c>POST /v1/completions</c>: the legacy text-completion API over a raw prompt.</summary>
    public static IEndpointRouteBuilder MapCompletions(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/completions", HandleAsync);
        app.MapPost("/completions", HandleAsync);
        return app;
    }

    private static async Task HandleAsync(HttpContext http)
    {
        var state = http.RequestServices.GetRequiredService<ServerState>();
        var dto = await JsonBody.ReadAsync(http, ServerJsonContext.Default.CompletionRequestDto);
        var call = CompletionRequestMapper.Map(dto, state.Backend);
        await using var generation = await Generation.StartAsync(state, call.Request, http, sseKeepAlive: call.Stream);
        var id = Ids.Completion();
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var model = call.Model.Id;

        if (!call.Stream)
        {
            var result = await GenerationResult.CollectAsync(generation, call.Request.ChoiceCount);
            var choices = new List<CompletionChoiceDto>(result.Choices.Length);
            for (var i = 0; i < result.Choices.Length; i++)
            {
                var choice = result.Choices[i];
                choices.Add(new CompletionChoiceDto(choice.Text.ToString(), i,
                    call.Request.Logprobs ? Logprobs(choice.Logprobs) : null,
                    GenerationResult.FinishReasonText(choice.Finish ?? FinishReason.Stop)));
            }

            var dto2 = new CompletionDto(id, created, model, choices, ChatCompletionsEndpoint.Usage(result.Usage));
            await http.Response.WriteAsJsonAsync(dto2, ServerJsonContext.Default.CompletionDto, contentType: null, http.RequestAborted);
            return;
        }

        var writer = EventStreamWriter.StartSse(http);
        var types = ServerJsonContext.Default.CompletionDto;
        try
        {
            await foreach (var e in generation.ReadAllAsync())
            {
                var chunk = e switch
                {
                    TextDeltaEvent text => new CompletionDto(id, created, model,
                        [new CompletionChoiceDto(text.Text, e.Choice, call.Request.Logprobs && text.Logprobs is not null ? Logprobs(text.Logprobs) : null, null)], null),
                    FinishedEvent finished => new CompletionDto(id, created, model,
                        [new CompletionChoiceDto("", e.Choice, null, GenerationResult.FinishReasonText(finished.Reason))], null),
                    UsageEvent usage when call.IncludeUsage => new CompletionDto(id, created, model, [], ChatCompletionsEndpoint.Usage(usage.Usage)),
                    _ => null,
                };
                if (chunk is not null)
                    await writer.WriteAsync(chunk, types);
            }
        }
        catch (Exception ex) when (!http.RequestAborted.IsCancellationRequested)
        {
            await writer.WriteAsync(ErrorHandlingMiddleware.ToEnvelope(ErrorHandlingMiddleware.ToApiException(ex)), ServerJsonContext.Default.ErrorEnvelopeDto);
            return;
        }

        await writer.WriteDoneAsync();
    }

    // Legacy logprobs: parallel arrays plus a token → logprob map per position.
    private static CompletionLogprobsDto Logprobs(IReadOnlyList<TokenLogprob> tokens)
    {
        var text = new List<string>(tokens.Count);
        var values = new List<float>(tokens.Count);
        var top = new List<Dictionary<string, float>>(tokens.Count);
        var offsets = new List<int>(tokens.Count);
        var offset = 0;
        foreach (var t in tokens)
        {
            text.Add(t.Token);
            values.Add(t.Logprob);
            var alternatives = new Dictionary<string, float>(t.Top.Count);
            foreach (var alt in t.Top)
                alternatives.TryAdd(alt.Token, alt.Logprob);
            top.Add(alternatives);
            offsets.Add(offset);
            offset += t.Token.Length;
        }

        return new CompletionLogprobsDto(text, values, top, offsets);
    }
}
