using Edgewise.Core.Formats.Gguf;
using Edgewise.Core.Tensors;

namespace Edgewise.Models.Common;

/// <summary>Tensors of a GGUF file (names are already GGUF names); owns the file.</summary>
public sealed class GgufTensorSource : ITensorSource
{
    public GgufTensorSource(GgufFile file)
    {
        File = file;
    }

    public GgufFile File { get; }
    public string Path => File.FilePath;

    public bool TryGetTensor(string ggufName, out TensorView view) => File.TryGetTensor(ggufName, out view);

    public bool TryGetFileRange(string ggufName, out string file, out long offset)
    {
        file = File.FilePath;
        offset = 0;
        if (!File.TryGetTensor(ggufName, out _)) return false;
        offset = File.DataOffset + File.GetTensorInfo(ggufName).Offset;
        return true;
    }

    public void Dispose() => File.Dispose();
}
