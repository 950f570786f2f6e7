"""Datasets by name: loaders in a registry, local copies before downloads, deterministic splits.

Every loader returns uint8 images (N, H, W, C) and int64 labels. Keras is imported only
when a dataset has to be downloaded, so everything else works with any Keras backend.

One module per concept: `example_ids` (stable ids of examples, mapping back to their source), `registry` (names → loaders, `RawData`), `splits` (`load_dataset`,
stratified splits and their checks, the `Dataset` type with its fingerprints), `official`
(digits, MNIST, Fashion-MNIST, CIFAR: CNNKIT_DATA_DIR copies or a Keras download), `digit_csv`
(Kaggle CSVs), `folders` (class folders and zips, through `cnnkit.datasets.safe_files`), `uploads`, and
`decoded_cache` (official files decoded once, kept on local disk), `corrected_copy` (a relabelled csv or
folder dataset's corrected copy); beneath them `images` (untrusted
image bytes decoded safely) and `safe_files` (regular files only, bounded reads, checked zips).
This package re-exports their public names; importing it registers every loader, in the order
`list_datasets` shows them. A module's limits (such as `digit_csv.CSV_CHUNK_ROWS`) are read
from that module, so a test changes them there.
"""

from cnnkit.datasets import example_ids, images, safe_files
from cnnkit.datasets.images import (
    ALLOWED_FORMATS, IMAGE_EXTENSIONS, decode_data_url, decode_image, image_channels, resize_with_pad, to_array,
    transparency_backdrop,
)
from cnnkit.datasets.safe_files import open_zip, read_entry, zip_path
from cnnkit.datasets.registry import DATASETS, DatasetInfo, Loader, RawData, list_datasets, register_dataset
from cnnkit.datasets.splits import Dataset, count_images, load_dataset, stratified_split
from cnnkit.datasets.official import (
    CIFAR10_CLASSES, CIFAR100_CLASSES, DATA_DIR_VARIABLE, DIGIT_CLASSES, FASHION_CLASSES, data_dir, download_needed,
    sample_images,
)
from cnnkit.datasets.digit_csv import MAX_CSV_LABEL, read_digit_csv
from cnnkit.datasets.folders import DEFAULT_IMAGE_SIZE, MAX_IMAGE_SIZE, is_visible, read_image_folder
from cnnkit.datasets.uploads import MAX_UPLOAD_BYTES, UPLOAD_KINDS, name_file, save_upload, shown_name
from cnnkit.datasets.corrected_copy import corrected_copy_record, write_corrected_copy

__all__ = [
    "CIFAR10_CLASSES", "CIFAR100_CLASSES", "DATASETS", "DEFAULT_IMAGE_SIZE", "DIGIT_CLASSES", "FASHION_CLASSES",
    "MAX_CSV_LABEL", "MAX_IMAGE_SIZE", "MAX_UPLOAD_BYTES", "UPLOAD_KINDS", "Dataset", "DatasetInfo", "Loader",
    "RawData", "data_dir", "is_visible", "list_datasets", "load_dataset", "read_digit_csv", "read_image_folder",
    "register_dataset", "sample_images", "save_upload", "stratified_split", "count_images",
    "example_ids", "images", "safe_files", "ALLOWED_FORMATS", "IMAGE_EXTENSIONS", "decode_data_url", "decode_image", "image_channels",
    "resize_with_pad", "to_array", "transparency_backdrop", "open_zip", "read_entry", "zip_path", "DATA_DIR_VARIABLE",
    "name_file", "download_needed", "shown_name", "write_corrected_copy", "corrected_copy_record",
]
