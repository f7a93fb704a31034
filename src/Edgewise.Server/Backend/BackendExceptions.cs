namespace Edgewise.Server.Backend;

/// <summary>A request the backend refuses; the server turns each subtype into an OpenAI error object.</summary>
public abstract class BackendException : Exception
{
    protected BackendException(string message) : base(message)
    {
    }
}

/// <summary>The prompt (plus the requested completion, when the client fixed one) does not fit the context.</summary>
public sealed class ContextOverflowException : BackendException
{
    public ContextOverflowException(int promptTokens, int requestedCompletionTokens, int contextLength)
        : base($"This model's maximum context length is {contextLength} tokens. However, you requested " +
               $"{promptTokens + requestedCompletionTokens} tokens ({promptTokens} in the messages, " +
               $"{requestedCompletionTokens} in the completion). Please reduce the length of the messages or completion.")
    {
        PromptTokens = promptTokens;
        RequestedCompletionTokens = requestedCompletionTokens;
        ContextLength = contextLength;
    }

    public int PromptTokens { get; }
    public int RequestedCompletionTokens { get; }
    public int ContextLength { get; }
}

/// <summary>A JSON Schema (tool parameters or response format) the constrained decoder cannot compile.</summary>
public sealed class InvalidSchemaException : BackendException
{
    /// <param name="param">Request field holding the schema, e.g. <c>response_format.json_schema.schema</c>.</param>
    /// <param name="pointer">JSON Pointer inside the schema where the problem is, e.g. <c>/properties/age/type</c>.</param>
    public InvalidSchemaException(string param, string pointer, string problem)
        : base($"Invalid schema for '{param}' at '{(pointer.Length == 0 ? "/" : pointer)}': {problem}")
    {
        Param = param;
        Pointer = pointer;
    }

    public string Param { get; }
    public string Pointer { get; }
}

public sealed class ModelNotFoundException : BackendException
{
    public ModelNotFoundException(string model)
        : base($"The model '{model}' does not exist or is not loaded.")
    {
        Model = model;
    }

    public string Model { get; }
}

/// <summary>A well-formed request asking for something this model cannot do (e.g. images on a text-only model).</summary>
public sealed class UnsupportedRequestException : BackendException
{
    public UnsupportedRequestException(string param, string message) : base(message)
    {
        Param = param;
    }

    public string Param { get; }
}
