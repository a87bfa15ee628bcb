"""Packaging for ganzoo.

Three top-level folders are installed *inside* the ganzoo namespace: kernels/ -> ganzoo.kernels,
export/ -> ganzoo.export, hub/ -> ganzoo.hub. Nothing is installed as a top-level ``kernels``,
``export`` or ``hub`` package: those names belong to other PyPI projects.
"""
from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).parent
version: dict = {}
exec((ROOT / "ganzoo" / "_version.py").read_text(), version)

MAPPED = {"ganzoo.kernels": "kernels", "ganzoo.export": "export", "ganzoo.hub": "hub"}


def _packages() -> list[str]:
    pkgs = find_packages(include=["ganzoo", "ganzoo.*"])
    for name, folder in MAPPED.items():
        pkgs.append(name)
        pkgs += [f"{name}.{sub}" for sub in find_packages(where=folder)]
    return sorted(set(pkgs))


setup(
    name="ganzoo",
    version=version["__version__"],
    description="A model zoo of paper-faithful GANs with real weights, validated ONNX/TensorRT export and benchmarks",
    long_description=(ROOT / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=_packages(),
    package_dir={"ganzoo": "ganzoo", **MAPPED},
    include_package_data=True,
    package_data={"ganzoo.hub": ["repos/*/*/*", "repos/*.json"], "ganzoo.models": ["index.json"]},
    install_requires=[
        "torch>=2.4",  # pin the build with constraints.txt (torch==2.13.0 is the local CPU wheel)
        "numpy>=1.24",
        "safetensors>=0.4",
        "huggingface_hub>=0.24",
        "pillow>=9",
        "rich>=13",
        "tqdm>=4.60",
        "pyyaml>=6",
    ],
    extras_require={
        "onnx": ["onnx>=1.16", "onnxruntime>=1.18", "onnxscript>=0.1", "onnxslim>=0.1"],
        "tensorrt": ["tensorrt>=10", "cuda-python>=12"],
        # torch 2.13's CUDA wheels pin triton==3.7.1; the kernels are tested with 3.7.x (TRITON_INTERPRET=1 on CPU)
        "triton": ["triton>=3.7.1,<3.8"],
        "train": ["mlxtend>=0.23", "scikit-learn>=1.3", "scikit-image>=0.21", "matplotlib>=3.7", "av>=12",
                  "scikit-video>=1.1"],
        "bench": ["matplotlib>=3.7", "onnxruntime>=1.18"],
        # serving python-onnxruntime Triton repositories (ganzoo.export.triton_server): the clients and the exporter.
        # The tritonserver binary comes from the nvidia-pytriton wheel, installed on its own with
        # `pip install --no-deps nvidia-pytriton==0.7.0` (ganzoo.export.triton_server.PYTRITON_REQUIREMENT): its
        # declared requirements pin numpy<2, and ganzoo only runs the binary it ships, never imports pytriton.
        "triton-server": ["tritonclient[http,grpc]>=2.40", "onnx>=1.16", "onnxruntime>=1.18", "onnxscript>=0.1"],
        # OpenVINO IR export and backend; onnxruntime for validation and int8 (onnxruntime.quantization)
        "openvino": ["openvino>=2024.0", "onnx>=1.16", "onnxruntime>=1.18", "onnxscript>=0.1"],
        "convert": ["h5py>=3.8"],
        "eval": ["scikit-image>=0.21", "scikit-learn>=1.3", "matplotlib>=3.7", "opencv-python-headless>=4.8"],
        "demo": ["onnx>=1.16", "onnxruntime>=1.18", "onnxscript>=0.1", "onnxslim>=0.1", "scikit-image>=0.21",
                 "scikit-learn>=1.3", "matplotlib>=3.7", "opencv-python-headless>=4.8"],
        "test": ["pytest>=7", "pytest-timeout>=2", "pytest-xdist>=3", "mlxtend>=0.23", "scikit-learn>=1.3",
                 "onnx>=1.16", "onnxslim>=0.1",
                 "onnxruntime>=1.18", "onnxscript>=0.1", "matplotlib>=3.7", "tritonclient[http,grpc]>=2.40", "h5py>=3.8",
                 "scikit-image>=0.21", "opencv-python-headless>=4.8", "av>=12", "scikit-video>=1.1", "trimesh>=4",
                 "openvino>=2024.0",  # tests/test_export_openvino.py
                 # tests/test_kernels.py runs the kernels in Triton's interpreter (triton ships Linux wheels only)
                 "triton>=3.7.1,<3.8; platform_system == 'Linux'"],
    },
    entry_points={"console_scripts": ["ganzoo=ganzoo.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
