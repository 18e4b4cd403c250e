#pragma once
/// etcd for many machines: EtcdClient, etcd_registrar, etcd_discover, EtcdServiceWatcher.
/// Link netref::etcd (built when libcurl and nlohmann-json are found).
#include "netref/etcd/etcd_client.hpp"
#include "netref/etcd/etcd_discovery.hpp"
#include "netref/etcd/etcd_registrar.hpp"
