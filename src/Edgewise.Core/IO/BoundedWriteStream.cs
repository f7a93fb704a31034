namespace Edgewise.Core.IO;

/// <summary>
/// Write-only pass-through that refuses to write more than one tensor's byte size, so a faulty data callback
/// cannot spill into the next tensor's region.
/// </summary>
internal sealed class BoundedWriteStream(Stream inner, string tensorName, long limit) : Stream
{
    public long Written { get; private set; }

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => Written; set => throw new NotSupportedException(); }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (buffer.Length > limit - Written)
        {
            throw new InvalidOperationException($"Tensor '{tensorName}' data is {limit} bytes; its writer tried to write {Written + buffer.Length}.");
        }
        inner.Write(buffer);
        Written += buffer.Length;
    }

    public override void WriteByte(byte value) => Write([value]);

    public override void Flush() => inner.Flush();
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
