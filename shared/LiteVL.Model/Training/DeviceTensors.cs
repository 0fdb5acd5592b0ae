using Google.Protobuf;
using LiteVL.Model.Graphs;
using LiteVL.Model.Runtime;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Onnx;

namespace LiteVL.Model.Training;

/// <summary>
/// float32 tensors that live where the training sessions run, so a step binds them to the sessions (IOBinding) without
/// copying: on CPU they are host memory from ONNX Runtime's CPU allocator, with the CUDA provider device memory from
/// its CUDA allocator. The trainer keeps parameters, AdamW moments and accumulated gradients here; per step only the
/// batch goes to the device and the loss scalars and gradient norm come back.
/// </summary>
/// <remarks>
/// ONNX Runtime's C# API has no public memory copy between host and device buffers, so <see cref="Upload"/> and
/// <see cref="Download"/> run a one-node Identity graph on the same provider with the source and destination bound
/// (ORT moves the data across devices itself). The same path runs on CPU, so the tests exercise it; it is used only at
/// start, resume, validation and checkpoints, never per step for whole tensors.
/// </remarks>
internal sealed class DeviceTensors : IDisposable
{
    private const string CopyIn = "x";
    private const string CopyOut = "y";

    private readonly InferenceSession _copy;
    private readonly OrtAllocator _allocator;
    private readonly OrtMemoryInfo? _deviceMemory;
    private readonly RunOptions _runOptions = new();
    private readonly List<OrtValue> _owned = [];

    /// <param name="options">The training sessions' options: the copy session gets the same provider.</param>
    /// <param name="device">The device those options resolved to (<see cref="SessionFactory.CreateOptions"/>).</param>
    public DeviceTensors(SessionOptions options, ExecutionDevice device, int deviceId)
    {
        _copy = new InferenceSession(IdentityGraph().ToByteArray(), options);
        if (device == ExecutionDevice.Cuda)
        {
            _deviceMemory = new OrtMemoryInfo(OrtMemoryInfo.allocatorCUDA, OrtAllocatorType.DeviceAllocator, deviceId, OrtMemType.Default);
            _allocator = new OrtAllocator(_copy, _deviceMemory);
        }
        else
        {
            _allocator = OrtAllocator.DefaultInstance;
        }

        Device = device;
    }

    public ExecutionDevice Device { get; }

    /// <summary>A new tensor of <paramref name="shape"/> on the device, owned (and disposed) by this store; contents undefined.</summary>
    public OrtValue Allocate(long[] shape)
    {
        var value = OrtValue.CreateAllocatedTensorValue(_allocator, TensorElementType.Float, shape);
        _owned.Add(value);
        return value;
    }

    /// <summary>Copies <paramref name="host"/> (as many elements as <paramref name="shape"/> holds) into <paramref name="target"/>.</summary>
    public void Upload(float[] host, long[] shape, OrtValue target)
    {
        using var source = OrtValue.CreateTensorValueFromMemory(host, shape);
        Copy(source, target);
    }

    /// <summary>The contents of <paramref name="source"/> as a new host array.</summary>
    public float[] Download(OrtValue source, long[] shape)
    {
        var host = new float[ShapeSize(shape)];
        using var target = OrtValue.CreateTensorValueFromMemory(host, shape);
        Copy(source, target);
        return host;
    }

    public void Dispose()
    {
        foreach (var value in _owned)
        {
            value.Dispose();
        }

        _owned.Clear();
        _runOptions.Dispose();
        if (_deviceMemory is not null)
        {
            _allocator.Dispose();
            _deviceMemory.Dispose();
        }

        _copy.Dispose();
    }

    private void Copy(OrtValue source, OrtValue target)
    {
        using var binding = _copy.CreateIoBinding();
        binding.BindInput(CopyIn, source);
        binding.BindOutput(CopyOut, target);
        _copy.RunWithBinding(_runOptions, binding);
        binding.SynchronizeBoundOutputs();
    }

    private static long ShapeSize(long[] shape) => shape.Aggregate(1L, (a, d) => a * d);

    /// <summary>y = Identity(x) for a float tensor of any rank and shape.</summary>
    private static ModelProto IdentityGraph()
    {
        static ValueInfoProto AnyFloat(string name) => new()
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } },
        };

        var g = new GraphProto { Name = "copy" };
        var node = new NodeProto { OpType = "Identity", Name = "copy" };
        node.Input.Add(CopyIn);
        node.Output.Add(CopyOut);
        g.Node.Add(node);
        g.Input.Add(AnyFloat(CopyIn));
        g.Output.Add(AnyFloat(CopyOut));
        var model = new ModelProto { IrVersion = 8, ProducerName = "litevl", Graph = g };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = OnnxGraph.OpsetVersion });
        return model;
    }
}
